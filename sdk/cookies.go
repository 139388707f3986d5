package sdk

import (
	"errors"
	"net/http"

	"github.com/wasmhost/wasmhost/abi"
)

// ErrInvalidCookie is SecureCookie's error for a value that is forged,
// malformed, signed with a secret the host no longer accepts, or older
// than the site's cookie_max_age.
var ErrInvalidCookie = errors.New("wasmhost: signed cookie is invalid or expired")

// ErrNoCookieSecret is the error of the signed-cookie functions on a site
// without server.cookie_secret.
var ErrNoCookieSecret = errors.New("wasmhost: the site has no cookie_secret")

// secureCookieMaxAge is the browser lifetime SetSecureCookie asks for:
// the host's default cookie_max_age, which bounds what it accepts anyway.
const secureCookieMaxAge = 31 * 24 * 3600

// SetSecureCookie sets a cookie whose value the host signs and timestamps
// with the site's cookie_secret (HMAC-SHA256), like Tornado's
// set_secure_cookie. The secret never enters the plugin: a compromised
// guest cannot forge cookies for other values or learn the key. The cookie
// has Path=/, HttpOnly, SameSite=Lax and a 31-day Max-Age; for other
// attributes, sign with SignCookieValue and build the http.Cookie yourself.
// Call it before the response's status is written.
func SetSecureCookie(w http.ResponseWriter, name, value string) error {
	signed, err := SignCookieValue(name, value)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: signed, Path: "/", MaxAge: secureCookieMaxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// SignCookieValue is the signed form of value for the cookie name.
func SignCookieValue(name, value string) (string, error) {
	signed, rc := signCookie(name, value)
	if rc < 0 {
		return "", cookieError(rc)
	}
	return signed, nil
}

// SecureCookie returns the value of a cookie set with SetSecureCookie, after
// the host has checked its signature (in constant time, against the current
// and the previous secret) and its age: "" and http.ErrNoCookie when the
// request has no such cookie, ErrInvalidCookie when it is forged or expired.
func SecureCookie(r *http.Request, name string) (string, error) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", err
	}
	value, rc := verifyCookie(name, c.Value)
	if rc < 0 {
		return "", cookieError(rc)
	}
	return value, nil
}

// XSRFToken returns the request's XSRF token, to put in a form as
// <input type="hidden" name="_xsrf" value="..."> or send in an X-XSRFToken
// header, when the request went through the built-in "xsrf" middleware;
// "" otherwise. Each call may give a differently masked form of the same
// token (so a page does not repeat a secret byte for byte); all are valid.
func XSRFToken(r *http.Request) string {
	tok, rc := xsrfToken()
	if rc < 0 {
		return ""
	}
	return tok
}

func cookieError(rc int32) error {
	switch rc {
	case abi.ErrInvalid:
		return ErrInvalidCookie
	case abi.ErrUnavailable:
		return ErrNoCookieSecret
	}
	return hostErr(rc)
}

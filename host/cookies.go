package host

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/wasmhost/wasmhost/abi"
)

// Signed cookies, as Tornado's set_secure_cookie: the host signs a value
// with the site's cookie_secret and a timestamp, and later checks both. The
// secret lives only here: guests ask for signatures and checks through host
// calls (cookie_sign, cookie_verify), so a compromised guest can neither
// read the key nor forge a cookie the host has not signed for it.
//
// A signed value is "2|<value, base64url>|<unix seconds>|<HMAC-SHA256, hex>",
// the MAC taken over the cookie's name, the encoded value and the time, so
// a value cannot be moved to another cookie or given another date.

// maxClockSkew is how far in the future a timestamp may be: workers on
// several machines do not share one clock exactly.
const maxClockSkew = 5 * time.Minute

func cookieMAC(secret, name, enc, ts string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(name))
	m.Write([]byte{'|'})
	m.Write([]byte(enc))
	m.Write([]byte{'|'})
	m.Write([]byte(ts))
	return hex.EncodeToString(m.Sum(nil))
}

func signValue(secret, name, value string, now time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString([]byte(value))
	ts := strconv.FormatInt(now.Unix(), 10)
	return "2|" + enc + "|" + ts + "|" + cookieMAC(secret, name, enc, ts)
}

// verifyValue checks a signed value against each secret, in constant time
// for the MAC, and its age.
func verifyValue(secrets []string, name, signed string, maxAge time.Duration, now time.Time) (string, bool) {
	parts := strings.Split(signed, "|")
	if len(parts) != 4 || parts[0] != "2" {
		return "", false
	}
	enc, ts, mac := parts[1], parts[2], parts[3]
	good := false
	for _, s := range secrets {
		if s != "" && hmac.Equal([]byte(mac), []byte(cookieMAC(s, name, enc, ts))) {
			good = true
		}
	}
	if !good {
		return "", false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", false
	}
	t := time.Unix(sec, 0)
	if now.Sub(t) > maxAge || t.Sub(now) > maxClockSkew {
		return "", false
	}
	v, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", false
	}
	return string(v), true
}

func (s *Server) signCookie(name, value string) (string, int32) {
	cfg := &s.state.Load().site.Server
	if cfg.CookieSecret == "" {
		return "", abi.ErrUnavailable
	}
	return signValue(cfg.CookieSecret.Reveal(), name, value, time.Now()), 0
}

func (s *Server) verifyCookie(name, signed string) (string, int32) {
	cfg := &s.state.Load().site.Server
	if cfg.CookieSecret == "" {
		return "", abi.ErrUnavailable
	}
	v, ok := verifyValue([]string{cfg.CookieSecret.Reveal(), cfg.CookieSecretPrev.Reveal()}, name, signed, cfg.CookieMaxAge, time.Now())
	if !ok {
		return "", abi.ErrInvalid
	}
	return v, 0
}

// The client's exchange (a plugin without middleware) offers the same
// services; it never has an XSRF token, which only the xsrf built-in sets.

func (ex *exchange) SignCookie(name, value string) (string, int32) {
	return ex.srv.signCookie(name, value)
}

func (ex *exchange) VerifyCookie(name, signed string) (string, int32) {
	return ex.srv.verifyCookie(name, signed)
}

func (ex *exchange) XSRFToken() (string, int32) { return "", abi.ErrUnavailable }

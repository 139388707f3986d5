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
// Every signature is made in a scope, the cookie_scope of the plugin that
// asks (its own name by default), and verifies only in that scope: a
// plugin can have any value signed, so without the scope any plugin could
// mint the session cookie another one trusts.
//
// A signed value is "3|<scope>|<value, base64url>|<unix seconds>|<HMAC-SHA256, hex>",
// the MAC taken over the scope, the cookie's name, the encoded value and
// the time, so a value cannot be moved to another scope or cookie or given
// another date. The scope is in clear so that a refusal can be told apart
// cheaply; the MAC is computed with the verifier's own scope, never the
// cookie's, so editing that field gains nothing. Version 2 values (the
// same without a scope) are refused: any plugin could have minted them.

// maxClockSkew is how far in the future a timestamp may be: workers on
// several machines do not share one clock exactly.
const maxClockSkew = 5 * time.Minute

// signedVersion is the first field of a signed value.
const signedVersion = "3"

// cookieMAC keys on the secret and frames each field with its length, so
// no two (scope, name) pairs give the same input, whatever bytes a cookie
// name holds.
func cookieMAC(secret, scope, name, enc, ts string) string {
	m := hmac.New(sha256.New, []byte(secret))
	for _, f := range []string{"wasmhost-signed-cookie-" + signedVersion, scope, name, enc, ts} {
		m.Write(strconv.AppendInt(nil, int64(len(f)), 10))
		m.Write([]byte{':'})
		m.Write([]byte(f))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func signValue(secret, scope, name, value string, now time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString([]byte(value))
	ts := strconv.FormatInt(now.Unix(), 10)
	return signedVersion + "|" + scope + "|" + enc + "|" + ts + "|" + cookieMAC(secret, scope, name, enc, ts)
}

// verifyValue checks a signed value against each secret, in constant time
// for the MAC, within scope, and its age.
func verifyValue(secrets []string, scope, name, signed string, maxAge time.Duration, now time.Time) (string, bool) {
	parts := strings.Split(signed, "|")
	if len(parts) != 5 || parts[0] != signedVersion || parts[1] != scope {
		return "", false
	}
	enc, ts, mac := parts[2], parts[3], parts[4]
	good := false
	for _, s := range secrets {
		if s != "" && hmac.Equal([]byte(mac), []byte(cookieMAC(s, scope, name, enc, ts))) {
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

// signCookie and verifyCookie work in scope, the cookie_scope of the
// plugin whose guest asks.
func (s *Server) signCookie(scope, name, value string) (string, int32) {
	cfg := &s.state.Load().site.Server
	switch {
	case cfg.CookieSecret == "":
		return "", abi.ErrUnavailable
	case scope == "":
		// An exchange that did not say whose it is: refused, so that two
		// such callers never share a scope by accident.
		return "", abi.ErrState
	}
	return signValue(cfg.CookieSecret.Reveal(), scope, name, value, time.Now()), 0
}

func (s *Server) verifyCookie(scope, name, signed string) (string, int32) {
	cfg := &s.state.Load().site.Server
	switch {
	case cfg.CookieSecret == "":
		return "", abi.ErrUnavailable
	case scope == "":
		return "", abi.ErrState
	}
	v, ok := verifyValue([]string{cfg.CookieSecret.Reveal(), cfg.CookieSecretPrev.Reveal()}, scope, name, signed, cfg.CookieMaxAge, time.Now())
	if !ok {
		return "", abi.ErrInvalid
	}
	return v, 0
}

// The client's exchange (a plugin without middleware) offers the same
// services; it never has an XSRF token, which only the xsrf built-in sets.

func (ex *exchange) SignCookie(name, value string) (string, int32) {
	return ex.srv.signCookie(ex.cookieScope, name, value)
}

func (ex *exchange) VerifyCookie(name, signed string) (string, int32) {
	return ex.srv.verifyCookie(ex.cookieScope, name, signed)
}

// cookieScope is the scope of this link's plugin: in a chain each link
// signs and verifies in its own, not in that of the plugin at the end.
func (lx *linkExchange) cookieScope() string {
	return lx.call.chain.links[lx.idx].(*pluginLink).mp.cfg.CookieScope
}

func (ex *exchange) XSRFToken() (string, int32) { return "", abi.ErrUnavailable }

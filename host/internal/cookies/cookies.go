// Package cookies signs cookie values, as Tornado's set_secure_cookie: the
// host signs a value with the site's cookie_secret and a timestamp, and
// later checks both. The secret stays in the host: guests ask for signatures and checks through host
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
package cookies

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

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

// Sign is value signed with secret in scope, for the cookie name, at now.
func Sign(secret, scope, name, value string, now time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString([]byte(value))
	ts := strconv.FormatInt(now.Unix(), 10)
	return signedVersion + "|" + scope + "|" + enc + "|" + ts + "|" + cookieMAC(secret, scope, name, enc, ts)
}

// Verify checks a signed value against each secret, in constant time
// for the MAC, within scope, and its age.
func Verify(secrets []string, scope, name, signed string, maxAge time.Duration, now time.Time) (string, bool) {
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

//go:build !wasip1

package sdk

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/wasmhost/wasmhost/abi"
)

// Natively there is no chain: next answers 502 and tests wrap a handler of
// their own with Middleware().
func chainHostOf() (chainHost, bool) { return nil, false }

// nativeKey stands in for the host's cookie_secret in native tests, so
// that SetSecureCookie and SecureCookie round-trip there too. It is made
// afresh in each process; the format is the SDK's own, not the host's.
var nativeKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}()

func nativeMAC(name, encoded string) string {
	m := hmac.New(sha256.New, nativeKey)
	m.Write([]byte(name + "|" + encoded))
	return hex.EncodeToString(m.Sum(nil))
}

func signCookie(name, value string) (string, int32) {
	enc := base64.RawURLEncoding.EncodeToString([]byte(value))
	return enc + "|" + nativeMAC(name, enc), 0
}

func verifyCookie(name, signed string) (string, int32) {
	enc, mac, ok := strings.Cut(signed, "|")
	if !ok || !hmac.Equal([]byte(mac), []byte(nativeMAC(name, enc))) {
		return "", abi.ErrInvalid
	}
	v, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", abi.ErrInvalid
	}
	return string(v), 0
}

// xsrfToken: natively no xsrf middleware runs.
func xsrfToken() (string, int32) { return "", abi.ErrUnavailable }

package gateway

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/wasmhost/wasmhost/abi"
)

// CheckStart validates a guest's start_response (its own or a
// downstream's, as a middleware sees it): a status from 200 to 999 and
// valid headers. rc is 0 or abi.ErrInvalid.
func CheckStart(status int32, headers []byte) (declared int64, rc int32) {
	if status < 200 || status > 999 {
		return -1, abi.ErrInvalid
	}
	declared, ok := checkHeaders(headers)
	if !ok {
		return -1, abi.ErrInvalid
	}
	return declared, 0
}

// checkHeaders validates a guest's encoded response headers: names must be
// HTTP tokens and values must not contain CR, LF, NUL or other control
// characters (header injection). It also returns the declared
// Content-Length, or -1; a malformed or repeated one is invalid.
func checkHeaders(enc []byte) (declared int64, ok bool) {
	declared = -1
	for len(enc) > 0 {
		k, v, rest, good := abi.NextPair(enc)
		if !good || !ValidName(k) || !ValidValue(v) {
			return 0, false
		}
		if len(k) == len("Content-Length") && textproto.CanonicalMIMEHeaderKey(string(k)) == "Content-Length" {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 || declared >= 0 {
				return 0, false
			}
			declared = n
		}
		enc = rest
	}
	return declared, true
}

// CopyHeaders adds the encoded headers to h, except hop-by-hop framing
// headers: the connection's framing is the server's business (PEP 3333 says
// the same), and a guest-set Transfer-Encoding would corrupt it.
//
// Two allocations cover every header: one string holds all the values
// (each value is a substring of it) and one slice backs every value list.
func CopyHeaders(h http.Header, enc []byte) {
	n := 0
	for rest := enc; len(rest) > 0; n++ {
		_, _, rest, _ = abi.NextPair(rest)
	}
	if n == 0 {
		return
	}
	all := string(enc)
	vals := make([]string, n)
	for i, rest := 0, enc; len(rest) > 0; i++ {
		k, v, next, _ := abi.NextPair(rest)
		rest = next
		name, ok := commonHeaders[string(k)] // no allocation for the usual names
		if !ok {
			name = textproto.CanonicalMIMEHeaderKey(string(k))
		}
		switch name {
		case "Transfer-Encoding", "Keep-Alive", "Upgrade", "Te", "Trailer", "Proxy-Connection":
			continue
		}
		end := len(enc) - len(rest)
		vals[i] = all[end-len(v) : end]
		if prev := h[name]; len(prev) > 0 {
			h[name] = append(prev, vals[i])
		} else {
			h[name] = vals[i : i+1 : i+1]
		}
	}
}

// commonHeaders maps the usual spellings of common response header names
// to their canonical form, which CopyHeaders then uses without allocating.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{
		"Content-Type", "Content-Length", "Content-Encoding", "Content-Disposition",
		"Cache-Control", "Etag", "Expires", "Last-Modified", "Location", "Set-Cookie",
		"Vary", "X-Content-Type-Options", "X-Frame-Options", "Access-Control-Allow-Origin",
	} {
		m[name] = name
		m[strings.ToLower(name)] = name
	}
	return m
}()

func ValidName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !isTokenChar[c] {
			return false
		}
	}
	return true
}

func ValidValue(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// isTokenChar is RFC 9110's tchar.
var isTokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// BodyAllowed reports whether a response with this status may have a body.
func BodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// ErrorHeaders are the head of the plain-text error pages a chain writes.
var ErrorHeaders = abi.AppendPair(abi.AppendPair(nil, "Content-Type", "text/plain; charset=utf-8"), "X-Content-Type-Options", "nosniff")

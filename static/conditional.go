package static

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file holds the rules of RFC 9110 sections 13 (conditional requests)
// and 14 (range requests), written out rather than delegated to
// http.ServeContent because that function sniffs types, knows nothing of
// content codings, and applies If-Range to whatever bytes it is given.

// precondition is the outcome of evaluating a request's conditional
// headers against the selected representation.
type precondition int

const (
	proceed     precondition = iota // serve the representation
	notModified                     // 304
	failed                          // 412
)

// evalPreconditions applies If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since in the order of RFC 9110 section 13.2.2. etag is the
// selected representation's strong entity tag, lastMod its Last-Modified
// (already truncated to seconds). Only GET and HEAD reach here, so a false
// If-None-Match always means 304.
func evalPreconditions(r *http.Request, etag string, lastMod time.Time) precondition {
	if im := r.Header.Values("If-Match"); len(im) > 0 {
		// Strong comparison: If-Match guards against lost updates.
		if !etagListMatches(im, etag, false) {
			return failed
		}
	} else if t, ok := headerTime(r, "If-Unmodified-Since"); ok && lastMod.After(t) {
		return failed
	}
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		// Weak comparison, and If-Modified-Since is ignored: the entity
		// tag is the better validator (a file can change twice a second).
		if etagListMatches(inm, etag, true) {
			return notModified
		}
		return proceed
	}
	if t, ok := headerTime(r, "If-Modified-Since"); ok && !lastMod.After(t) {
		return notModified
	}
	return proceed
}

// headerTime parses an HTTP-date header; ok is false when it is absent or
// not a valid date, which RFC 9110 says to treat as absent.
func headerTime(r *http.Request, name string) (time.Time, bool) {
	v := r.Header.Get(name)
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// etagListMatches reports whether any entity tag in the header values
// matches etag ("*" matches any current representation). With weak set,
// W/ prefixes are ignored on both sides; otherwise a weak tag never matches.
// A malformed list matches nothing from the first bad element on.
func etagListMatches(values []string, etag string, weak bool) bool {
	for _, v := range values {
		for {
			var tag string
			var isWeak bool
			tag, isWeak, v = scanETag(v)
			if tag == "" {
				break
			}
			if tag == "*" {
				return true
			}
			if (weak || !isWeak) && tag == etag {
				return true
			}
		}
	}
	return false
}

// scanETag returns the first entity tag in s ("*" or a quoted opaque tag,
// quotes kept, W/ removed and reported), and the rest of s. Entity tags
// may contain commas, so the list is scanned rather than split. tag is ""
// at the end of the list or at a malformed element.
func scanETag(s string) (tag string, weak bool, rest string) {
	s = strings.TrimLeft(s, " \t,")
	if s == "" {
		return "", false, ""
	}
	if s[0] == '*' {
		return "*", false, s[1:]
	}
	if strings.HasPrefix(s, "W/") {
		weak = true
		s = s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return "", false, ""
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return s[:i+1], weak, s[i+1:]
		case c == 0x21 || c >= 0x23 && c != 0x7f:
			// etagc: any visible character but '"', and obs-text.
		default:
			return "", false, ""
		}
	}
	return "", false, ""
}

// ifRangeAllows reports whether a Range header may be honoured under the
// request's If-Range: always when there is none; when it holds an entity
// tag, only if it strongly equals etag (the identity representation's,
// the only one ranges apply to); when it holds a date, only if it is exactly
// lastMod. Otherwise the client's partial copy is of another version (or of
// another content coding) and gets the whole representation instead, which
// is what prevents splicing bytes of two versions into one corrupt file.
func ifRangeAllows(r *http.Request, etag string, lastMod time.Time) bool {
	v := r.Header.Get("If-Range")
	if v == "" {
		return true
	}
	if v[0] == '"' || strings.HasPrefix(v, "W/") {
		tag, weak, rest := scanETag(v)
		return !weak && tag == etag && strings.TrimSpace(rest) == ""
	}
	t, err := http.ParseTime(v)
	return err == nil && t.Equal(lastMod)
}

// byteRange is a satisfiable range: length bytes from start.
type byteRange struct {
	start, length int64
}

// contentRange is the Content-Range header value of br in a file of size.
func (br byteRange) contentRange(size int64) string {
	return "bytes " + strconv.FormatInt(br.start, 10) + "-" +
		strconv.FormatInt(br.start+br.length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

// rangeResult classifies a Range header against a representation's size.
type rangeResult int

const (
	rangeIgnore        rangeResult = iota // no header, another unit, bad syntax, several ranges: send 200
	rangeOK                               // one satisfiable range: send 206
	rangeUnsatisfiable                    // send 416
)

// parseRange reads a Range header with a single byte range
// ("bytes=a-b", "bytes=a-", "bytes=-n") against size. RFC 9110 lets a
// server ignore a Range header; this one ignores those it does not serve
// (several ranges, which would need multipart/byteranges, and any range of
// an empty file, which Content-Range cannot describe) rather than failing.
func parseRange(header string, size int64) (byteRange, rangeResult) {
	unit, spec, ok := strings.Cut(header, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return byteRange{}, rangeIgnore
	}
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") || size == 0 {
		return byteRange{}, rangeIgnore
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return byteRange{}, rangeIgnore
	}
	if first == "" {
		// A suffix: the last n bytes, all of them if the file is shorter.
		n, ok := parseDigits(last)
		if !ok {
			return byteRange{}, rangeIgnore
		}
		if n == 0 {
			return byteRange{}, rangeUnsatisfiable
		}
		n = min(n, size)
		return byteRange{size - n, n}, rangeOK
	}
	start, ok := parseDigits(first)
	if !ok {
		return byteRange{}, rangeIgnore
	}
	end := size - 1
	if last != "" {
		e, ok := parseDigits(last)
		if !ok || e < start {
			return byteRange{}, rangeIgnore // invalid syntax per RFC 9110 14.1.1
		}
		end = min(e, size-1)
	}
	if start >= size {
		return byteRange{}, rangeUnsatisfiable
	}
	return byteRange{start, end - start + 1}, rangeOK
}

// parseDigits parses 1*DIGIT without sign or spaces. A value too large for
// int64 is reported as the largest int64, so "bytes=0-99999999999999999999"
// still means "to the end".
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			n = 1<<63 - 1
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

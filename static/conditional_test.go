package static

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestConditional(t *testing.T) {
	fx := newFixture(t, true)
	body := "hello, world\n"
	etag := `"` + hashOfString(body) + `"`
	lm := fx.serve("GET", "/static/hello.txt").Header().Get("Last-Modified")
	lmTime, _ := http.ParseTime(lm)
	before := lmTime.Add(-time.Hour).Format(http.TimeFormat)
	after := lmTime.Add(time.Hour).Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"no condition", nil, 200},
		{"If-None-Match equal", []string{"If-None-Match", etag}, 304},
		{"If-None-Match weak form", []string{"If-None-Match", "W/" + etag}, 304},
		{"If-None-Match other", []string{"If-None-Match", `"0000000000000000"`}, 200},
		{"If-None-Match list", []string{"If-None-Match", `"a", ` + etag + `, "b"`}, 304},
		{"If-None-Match list without", []string{"If-None-Match", `"a", "b"`}, 200},
		{"If-None-Match tag with a comma", []string{"If-None-Match", `"a,b", ` + etag}, 304},
		{"If-None-Match no spaces", []string{"If-None-Match", `"a",` + etag}, 304},
		{"If-None-Match repeated header", []string{"If-None-Match", `"a"`, "If-None-Match", etag}, 304},
		{"If-None-Match star", []string{"If-None-Match", "*"}, 304},
		{"If-None-Match unquoted", []string{"If-None-Match", hashOfString(body)}, 200},
		{"If-None-Match gzip tag for identity", []string{"If-None-Match", `"` + hashOfString(body) + `-gz"`}, 200},
		{"If-Modified-Since equal", []string{"If-Modified-Since", lm}, 304},
		{"If-Modified-Since later", []string{"If-Modified-Since", after}, 304},
		{"If-Modified-Since earlier", []string{"If-Modified-Since", before}, 200},
		{"If-Modified-Since invalid", []string{"If-Modified-Since", "yesterday"}, 200},
		// If-None-Match takes precedence over If-Modified-Since, both ways.
		{"INM match, IMS earlier", []string{"If-None-Match", etag, "If-Modified-Since", before}, 304},
		{"INM miss, IMS equal", []string{"If-None-Match", `"old"`, "If-Modified-Since", lm}, 200},
		{"If-Match equal", []string{"If-Match", etag}, 200},
		{"If-Match star", []string{"If-Match", "*"}, 200},
		{"If-Match other", []string{"If-Match", `"other"`}, 412},
		{"If-Match weak never matches", []string{"If-Match", "W/" + etag}, 412},
		{"If-Unmodified-Since later", []string{"If-Unmodified-Since", after}, 200},
		{"If-Unmodified-Since earlier", []string{"If-Unmodified-Since", before}, 412},
		{"If-Match wins over If-Unmodified-Since", []string{"If-Match", etag, "If-Unmodified-Since", before}, 200},
		{"412 before 304", []string{"If-Match", `"x"`, "If-None-Match", etag}, 412},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			w := fx.serve(method, "/static/hello.txt?v="+hashOfString(body), tc.header...)
			if w.Code != tc.status {
				t.Errorf("%s %s: %d, want %d", method, tc.name, w.Code, tc.status)
				continue
			}
			h := w.Header()
			switch tc.status {
			case 304:
				// RFC 9110 15.4.5: validators and caching headers, no body,
				// no representation metadata.
				if w.Body.Len() != 0 || h.Get("ETag") != etag || h.Get("Cache-Control") != immutable || h.Get("Expires") == "" {
					t.Errorf("%s %s: 304 with body %q headers %v", method, tc.name, w.Body.String(), h)
				}
				if h.Get("Content-Type") != "" || h.Get("Content-Length") != "" {
					t.Errorf("%s %s: 304 with representation headers %v", method, tc.name, h)
				}
			case 412:
				if h.Get("Cache-Control") != "no-store" || h.Get("ETag") != "" {
					t.Errorf("%s %s: 412 headers %v", method, tc.name, h)
				}
			case 200:
				if method == "GET" && w.Body.String() != body {
					t.Errorf("%s %s: body %q", method, tc.name, w.Body.String())
				}
			}
		}
	}
}

func TestRange(t *testing.T) {
	fx := newFixture(t, true)
	body := "hello, world\n" // 13 bytes
	size := strconv.Itoa(len(body))
	etag := `"` + hashOfString(body) + `"`
	lm := fx.serve("GET", "/static/hello.txt").Header().Get("Last-Modified")
	lmTime, _ := http.ParseTime(lm)
	for _, tc := range []struct {
		name         string
		header       []string
		status       int
		contentRange string
		body         string
	}{
		{"first bytes", []string{"Range", "bytes=0-4"}, 206, "bytes 0-4/" + size, "hello"},
		{"middle", []string{"Range", "bytes=7-11"}, 206, "bytes 7-11/" + size, "world"},
		{"open end", []string{"Range", "bytes=7-"}, 206, "bytes 7-12/" + size, "world\n"},
		{"suffix", []string{"Range", "bytes=-6"}, 206, "bytes 7-12/" + size, "world\n"},
		{"suffix longer than the file", []string{"Range", "bytes=-100"}, 206, "bytes 0-12/" + size, body},
		{"end past the file", []string{"Range", "bytes=7-1000"}, 206, "bytes 7-12/" + size, "world\n"},
		{"last byte", []string{"Range", "bytes=12-12"}, 206, "bytes 12-12/" + size, "\n"},
		{"unit in capitals", []string{"Range", "BYTES=0-0"}, 206, "bytes 0-0/" + size, "h"},
		{"huge end", []string{"Range", "bytes=0-99999999999999999999999"}, 206, "bytes 0-12/" + size, body},
		{"start at the end", []string{"Range", "bytes=13-"}, 416, "bytes */" + size, ""},
		{"start past the end", []string{"Range", "bytes=100-200"}, 416, "bytes */" + size, ""},
		{"empty suffix", []string{"Range", "bytes=-0"}, 416, "bytes */" + size, ""},
		{"several ranges: ignored", []string{"Range", "bytes=0-1,3-4"}, 200, "", body},
		{"reversed: ignored", []string{"Range", "bytes=5-2"}, 200, "", body},
		{"other unit: ignored", []string{"Range", "items=0-1"}, 200, "", body},
		{"garbage: ignored", []string{"Range", "bytes=a-b"}, 200, "", body},
		{"negative: ignored", []string{"Range", "bytes=--1"}, 200, "", body},
		{"no dash: ignored", []string{"Range", "bytes=5"}, 200, "", body},
		{"If-Range current tag", []string{"Range", "bytes=0-4", "If-Range", etag}, 206, "bytes 0-4/" + size, "hello"},
		{"If-Range old tag", []string{"Range", "bytes=0-4", "If-Range", `"0123456789abcdef"`}, 200, "", body},
		{"If-Range weak tag", []string{"Range", "bytes=0-4", "If-Range", "W/" + etag}, 200, "", body},
		{"If-Range gzip tag", []string{"Range", "bytes=0-4", "If-Range", `"` + hashOfString(body) + `-gz"`}, 200, "", body},
		{"If-Range date", []string{"Range", "bytes=0-4", "If-Range", lm}, 206, "bytes 0-4/" + size, "hello"},
		{"If-Range other date", []string{"Range", "bytes=0-4", "If-Range", lmTime.Add(-time.Second).Format(http.TimeFormat)}, 200, "", body},
		{"If-Range garbage", []string{"Range", "bytes=0-4", "If-Range", "garbage"}, 200, "", body},
		{"If-Range fails, unsatisfiable ignored", []string{"Range", "bytes=100-", "If-Range", `"old"`}, 200, "", body},
		{"If-None-Match before Range", []string{"Range", "bytes=0-4", "If-None-Match", etag}, 304, "", ""},
	} {
		w := fx.serve("GET", "/static/hello.txt", tc.header...)
		h := w.Header()
		if w.Code != tc.status || h.Get("Content-Range") != tc.contentRange || w.Code != 416 && w.Body.String() != tc.body {
			t.Errorf("%s: %d Content-Range %q body %q, want %d %q %q", tc.name, w.Code, h.Get("Content-Range"), w.Body.String(), tc.status, tc.contentRange, tc.body)
			continue
		}
		switch w.Code {
		case 206:
			if h.Get("Content-Length") != strconv.Itoa(len(tc.body)) || h.Get("ETag") != etag || h.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("%s: 206 headers %v", tc.name, h)
			}
		case 416:
			// Not the file, so not cacheable as it.
			if h.Get("Cache-Control") != "no-store" || h.Get("ETag") != "" {
				t.Errorf("%s: 416 headers %v", tc.name, h)
			}
		}
	}

	// An empty file has no byte to point at: its ranges are ignored.
	if w := fx.serve("GET", "/static/empty.txt", "Range", "bytes=0-"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("range of an empty file: %d %q", w.Code, w.Body.String())
	}
}

// TestRangeLarge checks offsets beyond the first read buffer over a real
// connection (where the body goes through sendfile).
func TestRangeLarge(t *testing.T) {
	fx := newFixture(t, true)
	srv := fx.server()
	content := make([]byte, 300_000)
	for i := range content {
		content[i] = byte(i * 7)
	}
	fx.write("data.bin", string(content))
	resp, body := rawGet(t, srv.Listener.Addr().String(), "GET", "/static/data.bin", "Range", "bytes=200000-200099")
	if resp.StatusCode != 206 || body != string(content[200000:200100]) || resp.Header.Get("Content-Range") != "bytes 200000-200099/300000" {
		t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		header string
		size   int64
		want   byteRange
		result rangeResult
	}{
		{"bytes=0-0", 10, byteRange{0, 1}, rangeOK},
		{"bytes=0-9", 10, byteRange{0, 10}, rangeOK},
		{"bytes=9-", 10, byteRange{9, 1}, rangeOK},
		{"bytes=-1", 10, byteRange{9, 1}, rangeOK},
		{"bytes=-10", 10, byteRange{0, 10}, rangeOK},
		{" bytes = 1-2 ", 10, byteRange{1, 2}, rangeOK},
		{"bytes=10-", 10, byteRange{}, rangeUnsatisfiable},
		{"bytes=-0", 10, byteRange{}, rangeUnsatisfiable},
		{"bytes=0-", 0, byteRange{}, rangeIgnore},
		{"bytes=1-0", 10, byteRange{}, rangeIgnore},
		{"bytes=", 10, byteRange{}, rangeIgnore},
		{"bytes=-", 10, byteRange{}, rangeIgnore},
		{"bytes=+1-2", 10, byteRange{}, rangeIgnore},
		{"bytes=1 -2", 10, byteRange{}, rangeIgnore},
		{"bytes=0-1,", 10, byteRange{}, rangeIgnore},
		{"bytes 0-1", 10, byteRange{}, rangeIgnore},
		{"", 10, byteRange{}, rangeIgnore},
	} {
		got, res := parseRange(tc.header, tc.size)
		if got != tc.want || res != tc.result {
			t.Errorf("parseRange(%q, %d) = %v %v, want %v %v", tc.header, tc.size, got, res, tc.want, tc.result)
		}
	}
}

func TestETagList(t *testing.T) {
	const tag = `"abc"`
	for _, tc := range []struct {
		list        string
		weak, match bool
	}{
		{`"abc"`, false, true},
		{`W/"abc"`, false, false},
		{`W/"abc"`, true, true},
		{`"x", "abc"`, false, true},
		{` ,, "x" ,"abc"`, false, true},
		{`"x,abc", "y"`, false, false},
		{`*`, false, true},
		{`abc`, true, false},
		{`"abc`, true, false},
		{`"x" junk "abc"`, true, false}, // malformed from "junk" on
		{`"a"bc"`, true, false},
		{"\"ab\x01c\"", true, false},
		{``, true, false},
	} {
		if got := etagListMatches([]string{tc.list}, tag, tc.weak); got != tc.match {
			t.Errorf("etagListMatches(%q, weak=%v) = %v", tc.list, tc.weak, got)
		}
	}
}

// TestLastModifiedInFuture: a file stamped in the future is reported as
// modified now (RFC 9110 8.8.2.1).
func TestLastModifiedInFuture(t *testing.T) {
	fx := newFixture(t, true)
	fx.write("future.txt", "x")
	future := time.Now().Add(48 * time.Hour)
	if err := osChtimes(fx, "future.txt", future); err != nil {
		t.Fatal(err)
	}
	lm, err := http.ParseTime(fx.serve("GET", "/static/future.txt").Header().Get("Last-Modified"))
	if err != nil || lm.After(time.Now()) {
		t.Errorf("Last-Modified %v is in the future (%v)", lm, err)
	}
}

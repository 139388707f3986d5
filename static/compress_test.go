package static

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("corrupt gzip: %v", err)
	}
	return string(out)
}

func TestGzipOnTheFly(t *testing.T) {
	fx := newFixture(t, true)
	sum := hashOfString(siteCSS)
	w := fx.serve("GET", "/static/css/site.css", "Accept-Encoding", "gzip, deflate, br")
	h := w.Header()
	if w.Code != 200 || h.Get("Content-Encoding") != "gzip" || h.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("%d headers %v", w.Code, h)
	}
	if h.Get("ETag") != `"`+sum+`-gz"` || h.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("ETag %q Content-Type %q", h.Get("ETag"), h.Get("Content-Type"))
	}
	if h.Get("Content-Length") != strconv.Itoa(w.Body.Len()) || w.Body.Len() >= len(siteCSS) {
		t.Errorf("Content-Length %q for %d bytes (from %d)", h.Get("Content-Length"), w.Body.Len(), len(siteCSS))
	}
	if got := gunzip(t, w.Body.Bytes()); got != siteCSS {
		t.Errorf("gunzipped body differs from the file")
	}
	// The gzip ETag validates the gzip response, not the identity one.
	if w := fx.serve("GET", "/static/css/site.css", "Accept-Encoding", "gzip", "If-None-Match", `"`+sum+`-gz"`); w.Code != 304 || w.Header().Get("ETag") != `"`+sum+`-gz"` {
		t.Errorf("If-None-Match of the gzip tag: %d %v", w.Code, w.Header())
	}
	if w := fx.serve("GET", "/static/css/site.css", "If-None-Match", `"`+sum+`-gz"`); w.Code != 200 || w.Header().Get("Content-Encoding") != "" {
		t.Errorf("the gzip tag for an identity response: %d %v", w.Code, w.Header())
	}
	// No Accept-Encoding, or gzip refused: identity, still with Vary.
	for _, ae := range []string{"", "identity", "gzip;q=0", "br", "deflate", "*;q=0, identity"} {
		var hdr []string
		if ae != "" {
			hdr = []string{"Accept-Encoding", ae}
		}
		w := fx.serve("GET", "/static/css/site.css", hdr...)
		if w.Header().Get("Content-Encoding") != "" || w.Body.String() != siteCSS || w.Header().Get("Vary") != "Accept-Encoding" || w.Header().Get("ETag") != `"`+sum+`"` {
			t.Errorf("Accept-Encoding %q: %v", ae, w.Header())
		}
	}
	for _, ae := range []string{"*", "gzip;q=0.5, identity;q=0.1", "GZIP", "x-gzip", "br;q=0.9, gzip;q=1"} {
		if w := fx.serve("GET", "/static/css/site.css", "Accept-Encoding", ae); w.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want gzip", ae, w.Header().Get("Content-Encoding"))
		}
	}
}

func TestNotCompressed(t *testing.T) {
	fx := newFixture(t, true)
	fx.write("photo.png", strings.Repeat("compressible but already a PNG ", 200))
	for _, tc := range []struct {
		target string
		vary   bool
	}{
		{"/static/hello.txt", true},     // compressible, but under 1 KiB
		{"/static/photo.png", false},    // not a compressible type
		{"/static/mod.wasm", true},      // small
		{"/static/data.unknown", false}, // missing: 404, no Vary
	} {
		w := fx.serve("GET", tc.target, "Accept-Encoding", "gzip, br")
		if w.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s was compressed", tc.target)
		}
		if (w.Header().Get("Vary") == "Accept-Encoding") != tc.vary {
			t.Errorf("%s: Vary %q", tc.target, w.Header().Get("Vary"))
		}
	}
}

// TestNoCompressedRanges is Tornado's corrupt body for gzip + Range: a
// range is always of the identity body, whatever Accept-Encoding says.
func TestNoCompressedRanges(t *testing.T) {
	fx := newFixture(t, true)
	fx.write("css/site.css.gz", gzipString(siteCSS))
	sum := hashOfString(siteCSS)
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"range", []string{"Range", "bytes=0-99"}, 206},
		{"range, If-Range identity tag", []string{"Range", "bytes=0-99", "If-Range", `"` + sum + `"`}, 206},
		// A client resuming a gzip download gets the whole response.
		{"range, If-Range gzip tag", []string{"Range", "bytes=0-99", "If-Range", `"` + sum + `-gz"`}, 200},
		{"unsatisfiable range", []string{"Range", "bytes=99999-"}, 416},
	} {
		w := fx.serve("GET", "/static/css/site.css", append([]string{"Accept-Encoding", "gzip, br"}, tc.header...)...)
		h := w.Header()
		switch {
		case w.Code != tc.status:
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.status)
		case w.Code == 206:
			if h.Get("Content-Encoding") != "" || w.Body.String() != siteCSS[:100] || h.Get("ETag") != `"`+sum+`"` || h.Get("Content-Range") != "bytes 0-99/"+strconv.Itoa(len(siteCSS)) {
				t.Errorf("%s: %v %q", tc.name, h, w.Body.String())
			}
		case w.Code == 200:
			if h.Get("Content-Encoding") != "gzip" || gunzip(t, w.Body.Bytes()) != siteCSS || h.Get("Content-Range") != "" {
				t.Errorf("%s: %v", tc.name, h)
			}
		}
	}
}

func gzipString(s string) string {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

func TestPrecompressedSiblings(t *testing.T) {
	fx := newFixture(t, true)
	sum := hashOfString(siteCSS)
	gz := gzipString(siteCSS)
	br := "fake brotli bytes" // the handler never decodes siblings
	fx.write("css/site.css.gz", gz)
	fx.write("css/site.css.br", br)
	for _, tc := range []struct {
		ae, enc, body string
	}{
		{"gzip, deflate, br", "br", br},
		{"br", "br", br},
		{"gzip", "gzip", gz},
		{"br;q=0.5, gzip", "gzip", gz},
		{"br;q=0, gzip;q=0.1", "", siteCSS}, // identity is implicitly q=1
		{"br;q=0, gzip;q=0.1, identity;q=0.05", "gzip", gz},
		{"identity", "", siteCSS},
		{"", "", siteCSS},
	} {
		var hdr []string
		if tc.ae != "" {
			hdr = []string{"Accept-Encoding", tc.ae}
		}
		for _, method := range []string{"GET", "HEAD"} {
			w := fx.serve(method, "/static/css/site.css", hdr...)
			h := w.Header()
			wantTag := `"` + sum + map[string]string{"br": "-br", "gzip": "-gz", "": ""}[tc.enc] + `"`
			if h.Get("Content-Encoding") != tc.enc || h.Get("ETag") != wantTag || h.Get("Vary") != "Accept-Encoding" {
				t.Errorf("%s with %q: %v", method, tc.ae, h)
			}
			if h.Get("Content-Type") != "text/css; charset=utf-8" || h.Get("Content-Length") != strconv.Itoa(len(tc.body)) {
				t.Errorf("%s with %q: Content-Type %q Content-Length %q", method, tc.ae, h.Get("Content-Type"), h.Get("Content-Length"))
			}
			if method == "GET" && w.Body.String() != tc.body {
				t.Errorf("GET with %q: wrong body", tc.ae)
			}
		}
	}
	// Three representations, three tags.
	tags := map[string]bool{}
	for _, ae := range []string{"br", "gzip", "identity"} {
		tags[fx.serve("GET", "/static/css/site.css", "Accept-Encoding", ae).Header().Get("ETag")] = true
	}
	if len(tags) != 3 {
		t.Errorf("ETags per encoding: %v", tags)
	}
	// The sibling itself is an ordinary file.
	if w := fx.serve("GET", "/static/css/site.css.gz", "Accept-Encoding", "gzip"); w.Header().Get("Content-Type") != "application/gzip" || w.Header().Get("Content-Encoding") != "" || w.Body.String() != gz {
		t.Errorf("GET of the .gz itself: %v", w.Header())
	}
}

// TestStaleSibling: a sibling older than its original was built from an
// older version; serving it would undo the edit for most browsers.
func TestStaleSibling(t *testing.T) {
	fx := newFixture(t, true)
	fx.write("css/site.css.br", "brotli of an older version")
	osChtimes(fx, "css/site.css.br", time.Now().Add(-2*time.Hour))
	w := fx.serve("GET", "/static/css/site.css", "Accept-Encoding", "br, gzip")
	if w.Header().Get("Content-Encoding") != "gzip" || gunzip(t, w.Body.Bytes()) != siteCSS {
		t.Errorf("stale .br served? %v", w.Header())
	}
	if !strings.Contains(fx.logText(), "name=css/site.css.br") {
		t.Errorf("no warning about the stale sibling:\n%s", fx.logText())
	}
	// Only br acceptable: identity rather than the stale file.
	if w := fx.serve("GET", "/static/css/site.css", "Accept-Encoding", "br"); w.Header().Get("Content-Encoding") != "" || w.Body.String() != siteCSS {
		t.Errorf("stale .br served to a br-only client: %v", w.Header())
	}
}

// TestGzipStreams: output larger than the held buffer is streamed without
// Content-Length, decodes to the file, and HEAD reports the same headers.
func TestGzipStreams(t *testing.T) {
	fx := newFixture(t, true)
	raw := make([]byte, 400_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range raw {
		raw[i] = byte(rng.IntN(256))
	}
	text := base64.StdEncoding.EncodeToString(raw) // compresses to ~75%: well over 64 KiB
	fx.write("bundle.js", text)
	srv := fx.server()
	for _, method := range []string{"GET", "HEAD"} {
		req, _ := http.NewRequest(method, srv.URL+"/static/bundle.js", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "gzip" || resp.ContentLength != -1 {
			t.Errorf("%s: Content-Encoding %q length %d", method, resp.Header.Get("Content-Encoding"), resp.ContentLength)
		}
		if method == "GET" {
			if resp.TransferEncoding == nil || gunzip(t, body) != text {
				t.Errorf("GET: not a streamed gzip body of the file (TE %v)", resp.TransferEncoding)
			}
		} else if len(body) != 0 {
			t.Errorf("HEAD has a body")
		}
	}
}

func TestParseAcceptEncoding(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want accepted
	}{
		{"", accepted{0, 0, 1}},
		{"gzip", accepted{0, 1, 1}},
		{"gzip, br", accepted{1, 1, 1}},
		{"br;q=0.8, gzip;q=0.5", accepted{0.8, 0.5, 1}},
		{"gzip;q=0", accepted{0, 0, 1}},
		{"*", accepted{1, 1, 1}},
		{"*;q=0", accepted{0, 0, 0}},
		{"*;q=0, identity", accepted{0, 0, 1}},
		{"identity;q=0", accepted{0, 0, 0}},
		{"gzip;q=2, br", accepted{1, 0, 1}},      // a bad q-value drops the element
		{"gzip;q=abc", accepted{0, 0, 1}},        // likewise
		{" GZip ; Q=0.3 ", accepted{0, 0.3, 1}},  // case and spaces
		{"gzip;level=9", accepted{0, 1, 1}},      // unknown parameter
		{"x-gzip;q=0.7", accepted{0, 0.7, 1}},    // the old name
		{"deflate, compress", accepted{0, 0, 1}}, // codings not produced here
	} {
		var vals []string
		if tc.in != "" {
			vals = []string{tc.in}
		}
		if got := parseAcceptEncoding(vals); got != tc.want {
			t.Errorf("parseAcceptEncoding(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

package static

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMethodNotAllowed(t *testing.T) {
	fx := newFixture(t, true)
	srv := fx.server()
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "get"} {
		for _, target := range []string{"/static/hello.txt", "/static/missing", "/robots.txt"} {
			resp, body := rawGet(t, srv.Listener.Addr().String(), m, target)
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s = %d Allow %q, want 405 with Allow: GET, HEAD", m, target, resp.StatusCode, resp.Header.Get("Allow"))
			}
			if body != "405 method not allowed\n" || resp.Header.Get("ETag") != "" {
				t.Errorf("%s %s: body %q ETag %q", m, target, body, resp.Header.Get("ETag"))
			}
		}
	}
}

func TestServeBasics(t *testing.T) {
	fx := newFixture(t, true)
	for _, tc := range []struct {
		target, body, ctype string
	}{
		{"/static/hello.txt", "hello, world\n", "text/plain; charset=utf-8"},
		{"/static/js/app.js", "document.body.dataset.ok = 'yes';\n", "text/javascript; charset=utf-8"},
		{"/static/img/logo.svg", `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>`, "image/svg+xml"},
		{"/static/mod.wasm", "\x00asm\x01\x00\x00\x00", "application/wasm"},
		{"/static/empty.txt", "", "text/plain; charset=utf-8"},
		{"/static/a%20b/c%20d.txt", "spaces\n", "text/plain; charset=utf-8"},
		{"/static/link-in", "hello, world\n", "application/octet-stream"},
		{"/static/sub/up-in", "hello, world\n", "application/octet-stream"},
		{"/robots.txt", "User-agent: *\nDisallow:\n", "text/plain; charset=utf-8"},
		{"/favicon.ico", "\x00\x00\x01\x00icon", "image/vnd.microsoft.icon"},
		{"/apple-touch.png", "\x89PNG fake", "image/png"},
	} {
		w := fx.serve("GET", tc.target)
		h := w.Header()
		if w.Code != 200 || w.Body.String() != tc.body {
			t.Errorf("GET %s = %d %q, want 200 %q", tc.target, w.Code, w.Body.String(), tc.body)
			continue
		}
		if h.Get("Content-Type") != tc.ctype || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: Content-Type %q nosniff %q", tc.target, h.Get("Content-Type"), h.Get("X-Content-Type-Options"))
		}
		if h.Get("ETag") != `"`+hashOfString(tc.body)+`"` {
			t.Errorf("GET %s: ETag %q", tc.target, h.Get("ETag"))
		}
		if lm, err := http.ParseTime(h.Get("Last-Modified")); err != nil || time.Since(lm) < 59*time.Minute {
			t.Errorf("GET %s: Last-Modified %q (the fixture's files are an hour old)", tc.target, h.Get("Last-Modified"))
		}
		if h.Get("Content-Length") != strconv.Itoa(len(tc.body)) || h.Get("Accept-Ranges") != "bytes" {
			t.Errorf("GET %s: Content-Length %q Accept-Ranges %q", tc.target, h.Get("Content-Length"), h.Get("Accept-Ranges"))
		}
	}
	fx.checkOpened("basics")
}

func TestMIMETable(t *testing.T) {
	for name, want := range map[string]string{
		"a.wasm":        "application/wasm",
		"a.js":          "text/javascript; charset=utf-8",
		"a.mjs":         "text/javascript; charset=utf-8",
		"a.css":         "text/css; charset=utf-8",
		"a.svg":         "image/svg+xml",
		"a.json":        "application/json",
		"a.map":         "application/json",
		"a.woff2":       "font/woff2",
		"a.woff":        "font/woff",
		"a.ttf":         "font/ttf",
		"a.otf":         "font/otf",
		"a.html":        "text/html; charset=utf-8",
		"a.png":         "image/png",
		"A.PNG":         "image/png",
		"a.JpEg":        "image/jpeg",
		"a.webp":        "image/webp",
		"a.avif":        "image/avif",
		"a.ico":         "image/vnd.microsoft.icon",
		"a.webmanifest": "application/manifest+json",
		"a.txt":         "text/plain; charset=utf-8",
		"a.pdf":         "application/pdf",
		"a.mp4":         "video/mp4",
		"a.css.gz":      "application/gzip",
		"a":             "application/octet-stream",
		"a.unknownext":  "application/octet-stream",
		"a.php":         "application/octet-stream",
		"dir.css/a":     "application/octet-stream",
	} {
		if got := typeOf(name).contentType; got != want {
			t.Errorf("type of %q = %q, want %q", name, got, want)
		}
	}
}

// TestNoSniffing: content that looks like HTML is still served as its
// extension says.
func TestNoSniffing(t *testing.T) {
	fx := newFixture(t, true)
	fx.write("evil.txt", "<html><script>alert(1)</script>")
	fx.write("noext", "<html><script>alert(1)</script>")
	for target, want := range map[string]string{
		"/static/evil.txt": "text/plain; charset=utf-8",
		"/static/noext":    "application/octet-stream",
	} {
		w := fx.serve("GET", target)
		if got := w.Header().Get("Content-Type"); got != want || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Content-Type %q, want %q with nosniff", target, got, want)
		}
	}
}

func TestCacheControl(t *testing.T) {
	fx := newFixture(t, true)
	v := hashOfString("hello, world\n")
	for _, tc := range []struct {
		target    string
		immutable bool
	}{
		{"/static/hello.txt?v=" + v, true},
		{"/static/hello.txt?x=1&v=" + v, true},
		{"/static/hello.txt", false},
		{"/static/hello.txt?v=", false},
		{"/static/hello.txt?v=0123456789abcdef", false},                       // another version
		{"/static/hello.txt?v=" + strings.ToUpper(v), false},                  // not the same string
		{"/static/hello.txt?v=" + v[:8], false},                               // a prefix
		{"/static/hello.txt?v=" + v + "x", false},                             // longer
		{"/static/hello.txt?V=" + v, false},                                   // another parameter
		{"/static/hello.txt?v=" + hashOfString(siteCSS), false},               // another file's hash
		{"/robots.txt?v=" + hashOfString("User-agent: *\nDisallow:\n"), true}, // root files too
	} {
		w := fx.serve("GET", tc.target)
		cc, exp := w.Header().Get("Cache-Control"), w.Header().Get("Expires")
		if tc.immutable {
			e, err := http.ParseTime(exp)
			if cc != "public, max-age=31536000, immutable" || err != nil || time.Until(e) < 364*24*time.Hour {
				t.Errorf("%s: Cache-Control %q Expires %q, want immutable for a year", tc.target, cc, exp)
			}
		} else if cc != "no-cache" || exp != "" {
			t.Errorf("%s: Cache-Control %q Expires %q, want no-cache and no Expires", tc.target, cc, exp)
		}
		if w.Header().Get("ETag") == "" || w.Header().Get("Last-Modified") == "" {
			t.Errorf("%s: no validators", tc.target)
		}
	}

	// After an edit, the old v gets no long lifetime (Tornado sends one for
	// any v), and the new v does.
	fx.write("hello.txt", "changed\n")
	if cc := fx.serve("GET", "/static/hello.txt?v="+v).Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("old v after an edit: Cache-Control %q", cc)
	}
	if cc := fx.serve("GET", fx.h.URL("hello.txt")).Header().Get("Cache-Control"); cc != immutable {
		t.Errorf("new v after an edit: Cache-Control %q", cc)
	}
}

// TestHeadSameAsGet compares the headers of HEAD and GET over a real
// connection for every kind of response.
func TestHeadSameAsGet(t *testing.T) {
	fx := newFixture(t, true)
	srv := fx.server()
	addr := srv.Listener.Addr().String()
	etag := `"` + hashOfString("hello, world\n") + `"`
	for _, tc := range []struct {
		target string
		header []string
	}{
		{"/static/hello.txt", nil},
		{"/static/hello.txt?v=" + hashOfString("hello, world\n"), nil},
		{"/static/empty.txt", nil},
		{"/static/hello.txt", []string{"Range", "bytes=2-5"}},
		{"/static/hello.txt", []string{"Range", "bytes=100-"}},
		{"/static/hello.txt", []string{"If-None-Match", etag}},
		{"/static/hello.txt", []string{"If-Match", `"other"`}},
		{"/static/css/site.css", []string{"Accept-Encoding", "gzip"}},
		{"/static/big.js", []string{"Accept-Encoding", "gzip"}},
		{"/static/big.js", nil},
		{"/static/missing.txt", nil},
		{"/static/../secret.txt", nil},
		{"/static/css/", nil},
	} {
		get, getBody := rawGet(t, addr, "GET", tc.target, tc.header...)
		head, headBody := rawGet(t, addr, "HEAD", tc.target, tc.header...)
		if headBody != "" {
			t.Errorf("HEAD %s %v has a body of %d bytes", tc.target, tc.header, len(headBody))
		}
		if get.StatusCode != head.StatusCode {
			t.Errorf("%s %v: GET %d, HEAD %d", tc.target, tc.header, get.StatusCode, head.StatusCode)
		}
		for _, hdr := range []http.Header{get.Header, head.Header} {
			hdr.Del("Date")
			hdr.Del("Expires") // a clock reading, a second apart at worst
		}
		if !sameHeaders(get.Header, head.Header) {
			t.Errorf("%s %v: headers differ\nGET  %v\nHEAD %v", tc.target, tc.header, get.Header, head.Header)
		}
		if get.StatusCode == 200 && get.Header.Get("Content-Length") != "" && get.Header.Get("Content-Length") != strconv.Itoa(len(getBody)) {
			t.Errorf("%s: Content-Length %s for %d bytes", tc.target, get.Header.Get("Content-Length"), len(getBody))
		}
	}
}

func sameHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestErrorPages: plain text, no internal paths, not cacheable as the file.
func TestErrorPages(t *testing.T) {
	fx := newFixture(t, true)
	srv := fx.server()
	for target, status := range map[string]int{
		"/static/missing.txt":   404,
		"/static/css":           404,
		"/static/css/":          404,
		"/static/":              404,
		"/static/link-out":      404,
		"/static/../secret.txt": 403,
		"/static/.env":          404,
		"/elsewhere":            404, // not Matches'; the host would not send it
	} {
		resp, body := rawGet(t, srv.Listener.Addr().String(), "GET", target)
		if resp.StatusCode != status {
			t.Errorf("GET %s = %d, want %d", target, resp.StatusCode, status)
		}
		want := strconv.Itoa(status) + " " + strings.ToLower(http.StatusText(status)) + "\n"
		if body != want || strings.Contains(body, fx.dir) || strings.Contains(body, "/") {
			t.Errorf("GET %s: body %q, want %q", target, body, want)
		}
		if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-store" ||
			resp.Header.Get("ETag") != "" || resp.Header.Get("Last-Modified") != "" {
			t.Errorf("GET %s: headers %v", target, resp.Header)
		}
	}
}

// TestFileShrinksWhileServed: a body shorter than the Content-Length sent
// must break the response, not end it.
func TestFileShrinksWhileServed(t *testing.T) {
	fx := newFixture(t, true)
	srv := fx.server()
	big := strings.Repeat("x", 8<<20) // larger than any socket buffer
	fx.write("huge.bin", big)
	resp, err := http.Get(srv.URL + "/static/huge.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 1024)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	fx.write("huge.bin", "short") // truncates the file being served
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("a response cut short by a truncated file read as complete")
	}
}

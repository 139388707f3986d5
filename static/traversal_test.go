package static

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileTargets are request-targets sent byte for byte, as an attacker
// would, with the status each must get. None may read a file outside the
// root, or a hidden file inside it.
var hostileTargets = []struct {
	target string
	status int
}{
	{"/static/../secret.txt", 403},
	{"/static/../../../../../../etc/passwd", 403},
	{"/static/css/../../secret.txt", 403},
	{"/static/./hello.txt", 403},
	{"/static/%2e%2e/secret.txt", 403},
	{"/static/%2E%2E/%2e%2E/etc/passwd", 403},
	{"/static/.%2e/secret.txt", 403},
	{"/static/css/%2e%2e%2f%2e%2e%2fsecret.txt", 404}, // encoded slashes
	{"/static/..%2fsecret.txt", 404},
	{"/static/..%2Fsecret.txt", 404},
	{"/static/css%2fsite.css", 404}, // harmless, but a name needing %2f is refused
	{"/static/..%5csecret.txt", 404},
	{"/static/..\\secret.txt", 404},
	{"/static/css\\..\\..\\secret.txt", 404},
	{"/static//etc/passwd", 404},
	{"/static///etc/passwd", 404},
	{"/static/css//site.css", 404},
	{"/static/hello.txt%00.png", 404},
	{"/static/%00", 404},
	{"/static/hello.txt/", 404},
	{"/static/hello.txt/..", 403},
	{"/static/link-out", 404},
	{"/static/abs-link", 404},
	{"/static/abs-in", 404}, // absolute links are refused even when they point inside
	{"/static/dir-out/secret.txt", 404},
	{"/static/dir-out/root/hello.txt", 404},
	{"/static/sub/deep-out", 404},
	{"/static/css/up.css", 404},
	{"/static/img/root.svg", 404},
	{"/static/loop", 404},
	{"/static/dangling", 404},
	{"/static/.env", 404},
	{"/static/css/.hidden.css", 404},
	{"/static/%2eenv", 404},
	{"/static/" + strings.Repeat("a/", 3000) + "x", 404},
	{"/static/%252e%252e/secret.txt", 404},   // double encoding is a name with "%2e"
	{"/static/%c0%ae%c0%ae/secret.txt", 404}, // overlong UTF-8 dots are not dots
	{"/static/\u2025/secret.txt", 404},       // two-dot leader
	{"/static/..;/secret.txt", 404},          // Tomcat-style path parameter
	{"/static/~root/.ssh/id_rsa", 404},
}

func TestTraversal(t *testing.T) {
	if len(hostileTargets) < 15 {
		t.Fatal("the acceptance criteria ask for at least 15 hostile paths")
	}
	fx := newFixture(t, true)
	srv := fx.server()
	addr := srv.Listener.Addr().String()
	for _, tc := range hostileTargets {
		for _, method := range []string{"GET", "HEAD"} {
			resp, body := rawGet(t, addr, method, tc.target)
			if resp.StatusCode != tc.status {
				t.Errorf("%s %q = %d, want %d", method, tc.target, resp.StatusCode, tc.status)
			}
			if strings.Contains(body, secret) || strings.Contains(body, "root:") || strings.Contains(body, fx.dir) {
				t.Errorf("%s %q leaked: %q", method, tc.target, body)
			}
		}
		fx.checkOpened(tc.target)
	}
}

// TestTraversalURL: URL never reads outside the root either, and gives
// such names no version.
func TestTraversalURL(t *testing.T) {
	fx := newFixture(t, true)
	for _, tc := range hostileTargets {
		name, err := url.PathUnescape(strings.TrimPrefix(tc.target, "/static/"))
		if err != nil {
			name = tc.target
		}
		if name == "css/site.css" {
			continue // hostile only as a request-target, with its %2f
		}
		if u := fx.h.URL(name); strings.Contains(u, "?v=") {
			t.Errorf("URL(%q) = %q has a version", name, u)
		}
		fx.checkOpened("URL " + name)
	}
}

// TestDecodedPaths drives ServeHTTP with decoded paths directly, as a host
// that decodes differently from net/http might hand them over.
func TestDecodedPaths(t *testing.T) {
	fx := newFixture(t, true)
	for _, p := range []string{
		"/static/../secret.txt", "/static/x/../../secret.txt", "/static/\x00", "/static/a\x00/../../secret.txt",
		"/static/..\\secret.txt", "/static//" + fx.dir + "/secret.txt", "/static/" + fx.dir + "/secret.txt",
		"/static/..", "/static/.", "/static/", "/robots.txt/../secret.txt",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = &url.URL{Path: p}
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, r)
		if w.Code != 403 && w.Code != 404 || strings.Contains(w.Body.String(), secret) {
			t.Errorf("path %q: %d %q", p, w.Code, w.Body.String())
		}
	}
	fx.checkOpened("decoded paths")
}

// TestFIFO: a named pipe in the folder must not block a request in open(2).
func TestFIFO(t *testing.T) {
	fx := newFixture(t, true)
	if err := syscall.Mkfifo(filepath.Join(fx.root, "pipe.txt"), 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, httptest.NewRequest("GET", "/static/pipe.txt", nil).WithContext(ctx))
		done <- w.Code
	}()
	select {
	case code := <-done:
		if code != http.StatusNotFound {
			t.Errorf("GET of a FIFO = %d, want 404", code)
		}
	case <-ctx.Done():
		t.Fatal("GET of a FIFO blocked")
	}
	if u := fx.h.URL("pipe.txt"); strings.Contains(u, "?v=") {
		t.Errorf("URL of a FIFO = %q", u)
	}
}

func TestCheckName(t *testing.T) {
	for name, want := range map[string]int{
		"a.css":         0,
		"css/a.css":     0,
		"a b.css":       0,
		"a..b.css":      0, // dots inside a name are fine
		"a.":            0,
		"...":           404, // hidden
		"":              404,
		".":             403,
		"..":            403,
		"a/..":          403,
		"../a":          403,
		"a/./b":         403,
		"/a":            404,
		"a/":            404,
		"a//b":          404,
		"a\\b":          404,
		"a\x00b":        404,
		".git/config":   404,
		"css/.htpass":   404,
		"a/.well-known": 404,
	} {
		if got := checkName(name); got != want {
			t.Errorf("checkName(%q) = %d, want %d", name, got, want)
		}
	}
}

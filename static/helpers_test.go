package static

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// secret is the content of files outside the root (and of hidden files):
// it must never appear in a response.
const secret = "TOP-SECRET-CONTENT"

// siteCSS is larger than minCompressSize, so it is compressed on the fly.
var siteCSS = "body { color: rgb(1, 2, 3); }\n" + strings.Repeat("/* padding padding padding */\n", 60)

// fixture is a static folder with ordinary files, tricky entries and a
// secret next to it, and a handler over it that records every file opened.
type fixture struct {
	t      testing.TB
	dir    string // holds root and the secrets
	root   string // the static folder
	h      *Handler
	logs   *bytes.Buffer
	mu     sync.Mutex
	opened []string // real paths of every file the handler opened
}

func newFixture(t testing.TB, hashCache bool) *fixture {
	t.Helper()
	dir := t.TempDir()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	files := map[string]string{
		"secret.txt":           secret,
		"root/css/site.css":    siteCSS,
		"root/js/app.js":       "document.body.dataset.ok = 'yes';\n",
		"root/img/logo.svg":    `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>`,
		"root/robots.txt":      "User-agent: *\nDisallow:\n",
		"root/favicon.ico":     "\x00\x00\x01\x00icon",
		"root/apple-touch.png": "\x89PNG fake",
		"root/hello.txt":       "hello, world\n",
		"root/empty.txt":       "",
		"root/.env":            secret,
		"root/css/.hidden.css": secret,
		"root/a b/c d.txt":     "spaces\n",
		"root/big.js":          strings.Repeat("console.log('a fairly compressible line of script');\n", 4000),
		"root/mod.wasm":        "\x00asm\x01\x00\x00\x00",
		"root/sub/inner.txt":   "inner\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Make every file old enough not to be "racy", so the cache is used.
	old := time.Now().Add(-time.Hour)
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	links := map[string]string{
		"root/link-out":     "../secret.txt",                         // relative, escapes
		"root/abs-link":     filepath.Join(dir, "secret.txt"),        // absolute
		"root/abs-in":       filepath.Join(root, "hello.txt"),        // absolute, though inside
		"root/dir-out":      "..",                                    // a folder outside
		"root/sub/deep-out": "../../secret.txt",                      // escapes from below
		"root/link-in":      "hello.txt",                             // stays inside: served
		"root/sub/up-in":    "../hello.txt",                          // up, but still inside
		"root/loop":         "loop",                                  // ELOOP
		"root/dangling":     "nothing-here",                          // ENOENT
		"root/css/up.css":   "../../secret.txt",                      // looks like an asset
		"root/img/root.svg": filepath.Join(root, "..", "secret.txt"), // absolute, outside
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	fx := &fixture{t: t, dir: dir, root: root, logs: &bytes.Buffer{}}
	fx.h = fx.newHandler(Config{Root: root, HashCache: hashCache, RootFiles: []string{"apple-touch.png"}})
	return fx
}

// newHandler makes a handler over cfg whose opens are recorded in fx.
func (fx *fixture) newHandler(cfg Config) *Handler {
	fx.t.Helper()
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: &lockedWriter{w: fx.logs, mu: &fx.mu}, Level: hclog.Debug})
	h, err := New(cfg)
	if err != nil {
		fx.t.Fatal(err)
	}
	h.onOpen = func(f *os.File) {
		real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
		if err != nil {
			real = "unknown:" + f.Name()
		}
		fx.mu.Lock()
		fx.opened = append(fx.opened, real)
		fx.mu.Unlock()
	}
	fx.t.Cleanup(func() { h.Close() })
	return h
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (fx *fixture) logText() string {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	return fx.logs.String()
}

// checkOpened fails the test if any file opened so far lies outside the
// root, and forgets them.
func (fx *fixture) checkOpened(what string) {
	fx.t.Helper()
	fx.mu.Lock()
	opened := fx.opened
	fx.opened = nil
	fx.mu.Unlock()
	for _, p := range opened {
		if !strings.HasPrefix(p, fx.root+string(filepath.Separator)) {
			fx.t.Errorf("%s: opened %s, outside the root %s", what, p, fx.root)
		}
	}
}

// write replaces a file below the root.
func (fx *fixture) write(name, content string) {
	fx.t.Helper()
	p := filepath.Join(fx.root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		fx.t.Fatal(err)
	}
}

// serve runs the handler on a request built from method, target and
// header pairs, in memory.
func (fx *fixture) serve(method, target string, header ...string) *httptest.ResponseRecorder {
	fx.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	return w
}

// server runs the handler behind a real net/http server, the way the host
// will: every request goes to it (the host asks Matches first; tests of
// Matches are separate).
func (fx *fixture) server() *httptest.Server {
	srv := httptest.NewServer(fx.h)
	fx.t.Cleanup(srv.Close)
	return srv
}

// rawGet sends a request-target exactly as given (no client-side cleaning
// or escaping) over a fresh connection and returns the response with its
// body read.
func rawGet(t *testing.T, addr, method, target string, header ...string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n")
	for i := 0; i+1 < len(header); i += 2 {
		b.WriteString(header[i] + ": " + header[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %q: %v", method, target, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// osChtimes sets both times of a file below the root.
func osChtimes(fx *fixture, name string, t time.Time) error {
	return os.Chtimes(filepath.Join(fx.root, filepath.FromSlash(name)), t, t)
}

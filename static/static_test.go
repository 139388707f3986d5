package static

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func hashOfString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

func TestNewChecksRoot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		cfg  Config
		want string // in the error
	}{
		{Config{}, "no folder"},
		{Config{Root: filepath.Join(dir, "missing")}, filepath.Join(dir, "missing")},
		{Config{Root: file}, file + " is not a folder"},
		{Config{Root: dir, URLPrefix: "static/"}, "must start and end"},
		{Config{Root: dir, URLPrefix: "/static"}, "must start and end"},
		{Config{Root: dir, RootFiles: []string{"a/b.png"}}, "plain file name"},
		{Config{Root: dir, RootFiles: []string{".."}}, "plain file name"},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	h, err := New(Config{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if h.prefix != "/static/" {
		t.Errorf("default prefix %q", h.prefix)
	}
	if err := h.Close(); err != nil {
		t.Error(err)
	}
}

func TestMatches(t *testing.T) {
	h, err := New(Config{Root: t.TempDir(), URLPrefix: "/assets/", RootFiles: []string{"apple-touch-icon.png"}})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		"/assets/css/site.css":  true,
		"/assets/":              true,
		"/assets/../x":          true, // ServeHTTP refuses it; it must not reach a plugin either
		"/robots.txt":           true,
		"/favicon.ico":          true,
		"/apple-touch-icon.png": true,
		"/assets":               false,
		"/static/x.css":         false,
		"/":                     false,
		"":                      false,
		"/robots.txt/x":         false,
		"/sub/robots.txt":       false,
		"/robots.txtx":          false,
		"robots.txt":            false,
		"/index.html":           false,
	} {
		if got := h.Matches(path); got != want {
			t.Errorf("Matches(%q) = %v, want %v", path, got, want)
		}
	}
	paths := []string{"/assets/css/site.css", "/robots.txt", "/apple-touch-icon.png", "/api/users/42"}
	if n := testing.AllocsPerRun(100, func() {
		for _, p := range paths {
			h.Matches(p)
		}
	}); n != 0 {
		t.Errorf("Matches allocates %v times per run, want 0", n)
	}
}

func TestURL(t *testing.T) {
	fx := newFixture(t, true)
	v := hashOfString(siteCSS)
	for in, want := range map[string]string{
		"css/site.css":   "/static/css/site.css?v=" + v,
		"/css/site.css":  "/static/css/site.css?v=" + v,
		"//css/site.css": "/static/css/site.css?v=" + v,
		"a b/c d.txt":    "/static/a%20b/c%20d.txt?v=" + hashOfString("spaces\n"),
		"link-in":        "/static/link-in?v=" + hashOfString("hello, world\n"),
		"missing.css":    "/static/missing.css",
		"css":            "/static/css",           // a folder
		"../secret.txt":  "/static/../secret.txt", // escapes; no version, no read
		"link-out":       "/static/link-out",      // a symbolic link out of the root
		".env":           "/static/.env",          // hidden
	} {
		if got := fx.h.URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
	fx.checkOpened("URL")
	logs := fx.logText()
	for _, name := range []string{"missing.css", "link-out", ".env", "../secret.txt"} {
		if !strings.Contains(logs, "name="+name) {
			t.Errorf("no warning for %q in the log:\n%s", name, logs)
		}
	}
}

func TestURLWarningIsRateLimited(t *testing.T) {
	fx := newFixture(t, true)
	for range 100 {
		fx.h.URL("missing.css")
	}
	if n := strings.Count(fx.logText(), "name=missing.css"); n != 1 {
		t.Errorf("%d warnings for 100 calls, want 1", n)
	}
	later := time.Now().Add(2 * warnEvery)
	fx.h.now = func() time.Time { return later }
	fx.h.URL("missing.css")
	if n := strings.Count(fx.logText(), "name=missing.css"); n != 2 {
		t.Errorf("%d warnings after the interval, want 2", n)
	}
}

// versionOf is the v a request would get for name, via URL.
func versionOf(t *testing.T, h *Handler, name string) string {
	t.Helper()
	u := h.URL(name)
	_, v, ok := strings.Cut(u, "?v=")
	if !ok {
		t.Fatalf("URL(%q) = %q, has no version", name, u)
	}
	return v
}

// TestStaleHashAfterChange is tornado#892: every kind of change must show
// in the very next URL and response, with the cache on and off.
func TestStaleHashAfterChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache bool
		// skew moves the handler's clock ahead, so that no file looks
		// racily new: the cache key alone must then catch each change.
		skew time.Duration
	}{
		{"cached", true, 0},
		{"cached, key only", true, time.Minute},
		{"uncached", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, tc.cache)
			fx.h.now = func() time.Time { return time.Now().Add(tc.skew) }
			old := time.Now().Add(-time.Hour)
			check := func(step, content string) {
				t.Helper()
				want := hashOfString(content)
				if got := versionOf(t, fx.h, "hello.txt"); got != want {
					t.Errorf("%s: URL gives v=%s, want %s", step, got, want)
				}
				w := fx.serve("GET", "/static/hello.txt")
				if etag := w.Header().Get("ETag"); etag != `"`+want+`"` || w.Body.String() != content {
					t.Errorf("%s: ETag %s body %q, want %q for %q", step, etag, w.Body.String(), want, content)
				}
			}
			check("initial", "hello, world\n")
			check("again", "hello, world\n")

			// Same size, mtime set back to the old value: the change time
			// (or the racy rule) must tell.
			fx.write("hello.txt", "HELLO, WORLD\n")
			if err := os.Chtimes(filepath.Join(fx.root, "hello.txt"), old, old); err != nil {
				t.Fatal(err)
			}
			check("rewritten in place, same size and mtime", "HELLO, WORLD\n")

			// Replaced by rename, as editors and rsync do, with the old
			// mtime again: the inode differs.
			tmp := filepath.Join(fx.root, "hello.tmp")
			os.WriteFile(tmp, []byte("hallo, world\n"), 0o644)
			os.Chtimes(tmp, old, old)
			if err := os.Rename(tmp, filepath.Join(fx.root, "hello.txt")); err != nil {
				t.Fatal(err)
			}
			check("replaced by rename", "hallo, world\n")

			// An ordinary edit, then another within the same clock tick
			// with the same size: only the racy rule (or no cache) can
			// catch the second, so the key-only case stops before it.
			fx.write("hello.txt", "first\n")
			check("edited", "first\n")
			if tc.skew != 0 {
				return
			}
			fx.write("hello.txt", "secnd\n")
			check("edited again at once", "secnd\n")
		})
	}
}

// TestMissThenCreate: a miss is not remembered.
func TestMissThenCreate(t *testing.T) {
	fx := newFixture(t, true)
	if got := fx.h.URL("css/new.css"); got != "/static/css/new.css" {
		t.Fatalf("URL of a missing file = %q", got)
	}
	if w := fx.serve("GET", "/static/css/new.css"); w.Code != 404 {
		t.Fatalf("GET missing = %d", w.Code)
	}
	fx.write("css/new.css", "p{}")
	if got, want := fx.h.URL("css/new.css"), "/static/css/new.css?v="+hashOfString("p{}"); got != want {
		t.Errorf("URL after create = %q, want %q", got, want)
	}
	if w := fx.serve("GET", "/static/css/new.css"); w.Code != 200 || w.Body.String() != "p{}" {
		t.Errorf("GET after create = %d %q", w.Code, w.Body.String())
	}
	// And deleted again: back to no version, and a 404.
	os.Remove(filepath.Join(fx.root, "css/new.css"))
	if got := fx.h.URL("css/new.css"); got != "/static/css/new.css" {
		t.Errorf("URL after delete = %q", got)
	}
	if w := fx.serve("GET", "/static/css/new.css"); w.Code != 404 {
		t.Errorf("GET after delete = %d", w.Code)
	}
}

// TestHashCacheUsed: with the cache on, an unchanged old file is read only
// to be served, not to be hashed again; with it off, every URL call hashes.
func TestHashCacheUsed(t *testing.T) {
	for _, cache := range []bool{true, false} {
		fx := newFixture(t, cache)
		// The fixture's files were just touched (their change time is
		// now); look at them from a little later so they are not racy.
		fx.h.now = func() time.Time { return time.Now().Add(time.Minute) }
		fx.h.URL("hello.txt")
		fx.checkOpened("first")
		fx.mu.Lock()
		fx.opened = nil
		fx.mu.Unlock()
		for range 5 {
			fx.h.URL("hello.txt")
		}
		fx.mu.Lock()
		n := len(fx.opened)
		fx.mu.Unlock()
		if cache && n != 0 || !cache && n != 5 {
			t.Errorf("hash_cache=%v: %d opens for 5 URL calls", cache, n)
		}
	}
}

// TestRootReplaced: the root is opened per request, so a deployment that
// swaps the folder is served at once.
func TestRootReplaced(t *testing.T) {
	fx := newFixture(t, true)
	if w := fx.serve("GET", "/static/hello.txt"); w.Body.String() != "hello, world\n" {
		t.Fatalf("before: %q", w.Body.String())
	}
	next := filepath.Join(fx.dir, "next")
	os.MkdirAll(next, 0o755)
	os.WriteFile(filepath.Join(next, "hello.txt"), []byte("release 2\n"), 0o644)
	if err := os.Rename(fx.root, filepath.Join(fx.dir, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, fx.root); err != nil {
		t.Fatal(err)
	}
	if w := fx.serve("GET", "/static/hello.txt"); w.Body.String() != "release 2\n" {
		t.Errorf("after the swap: %q", w.Body.String())
	}
}

var hexV = regexp.MustCompile(`\?v=[0-9a-f]{16}$`)

func TestURLFormat(t *testing.T) {
	fx := newFixture(t, true)
	if u := fx.h.URL("js/app.js"); !hexV.MatchString(u) || !strings.HasPrefix(u, "/static/js/app.js?v=") {
		t.Errorf("URL = %q", u)
	}
}

package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// browserChromium finds the browser: $CHROMIUM, else chromium (Debian's
// package) or Chrome on $PATH. Without one the test is skipped locally, and
// fails under CI (CI=true), where a missing browser means a broken setup
// rather than a developer's machine.
func browserChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const how = "no Chromium found: install it (apt-get install -y chromium) or set CHROMIUM to its path"
	if os.Getenv("CI") == "true" {
		t.Fatal(how + "; under CI the browser test must run")
	}
	t.Skip(how + "; skipping the browser test")
	return ""
}

// browserSite is a running wasmhost serving the example site plugin at "/"
// (so the static files must win over a plugin that matches every path),
// with a copy of plugins/examples/static that the test may edit, behind a
// proxy that counts the requests reaching the server.
type browserSite struct {
	proc    *testutil.Process
	static  string // the copied static folder
	base    string // the proxy's URL, which the browser uses
	counter *browserCounter
}

func startBrowserSite(t *testing.T) *browserSite {
	t.Helper()
	bin := testutil.Binary(t, "")
	wasm := testutil.Plugin(t, "plugins/examples/site")
	dir := t.TempDir()
	staticDir := filepath.Join(dir, "static")
	browserCopyTree(t, filepath.Join(testutil.Root(), "plugins/examples/static"), staticDir)
	site := fmt.Sprintf(`server {
  listen = ["127.0.0.1:0"]
}

plugin "site" {
  path  = %q
  mount = "/"
}

static {
  path = %q
}
`, wasm, staticDir)
	siteFile := filepath.Join(dir, "site.hcl")
	if err := os.WriteFile(siteFile, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartWasmhost(t, bin, "run", siteFile, "--listen", "127.0.0.1:0")
	counter := &browserCounter{counts: map[string]int{}}
	target := &url.URL{Scheme: "http", Host: p.Addr}
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: counter.wrap(proxy)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &browserSite{proc: p, static: staticDir, base: "http://" + ln.Addr().String(), counter: counter}
}

// browserCounter counts requests by request-target as they arrive, before
// they are forwarded: a request the browser answered from its cache never
// shows up here.
type browserCounter struct {
	mu     sync.Mutex
	counts map[string]int
	log    []string
}

func (c *browserCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.counts[r.Method+" "+r.RequestURI]++
		c.log = append(c.log, r.Method+" "+r.RequestURI+" (If-None-Match: "+r.Header.Get("If-None-Match")+")")
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// count returns how many GET requests had exactly this request-target.
func (c *browserCounter) count(target string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts["GET "+target]
}

// versioned returns how many requests for versioned static URLs arrived.
func (c *browserCounter) versioned() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.counts {
		if browserVersionedRE.MatchString(k) {
			n += v
		}
	}
	return n
}

func (c *browserCounter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.log, "\n")
}

// browserVersionedRE matches a request for a versioned static URL, as the example
// page links them.
var browserVersionedRE = regexp.MustCompile(`^(GET|HEAD) /static/\S+\?v=[0-9a-f]{16}$`)

// browserAccessLogRE matches the host's access log line of a versioned static
// request.
var browserAccessLogRE = regexp.MustCompile(`wasmhost\.access: (?:GET|HEAD) (/static/[^\s:]+\?v=[0-9a-f]{16}):`)

// browserCopyTree copies the regular files and folders below src to dst.
func browserCopyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startBrowser starts a headless Chromium with a fresh profile for the
// test, for 60 seconds at most, and returns its chromedp context.
func startBrowser(t *testing.T, chromium string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests may run as root, where the sandbox will not start
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		// The test machine may have no internet: keep Chromium from
		// calling home (updates, sync, safe browsing lists).
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

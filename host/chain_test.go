package host_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader"
)

func init() {
	plugins["mw"] = "plugins/testplugins/mw"
	plugins["status"] = "plugins/testplugins/status"
	plugins["cookie"] = "plugins/examples/cookie"
	plugins["errorpage"] = "plugins/examples/errorpage"
	plugins["auth"] = "plugins/examples/auth"
}

// twoMiddleware declares the test middleware under two names.
const twoMiddleware = `
plugin "mw1" {
  path = "{{mw}}"
  env  = { NAME = "mw1" }
}
plugin "mw2" {
  path = "{{mw}}"
  env  = { NAME = "mw2" }
}
`

func TestChainCookieAndErrorPage(t *testing.T) {
	s := startSite(t, `
plugin "errorpage" { path = "{{errorpage}}" }
plugin "cookie"    { path = "{{cookie}}" }
plugin "environ" {
  path       = "{{environ}}"
  mount      = "/env"
  middleware = ["errorpage", "cookie"]
}
plugin "status" {
  path       = "{{status}}"
  mount      = "/app"
  middleware = ["errorpage", "cookie"]
}`)
	req, _ := http.NewRequest("GET", s.base+"/env/a%20b?x=1", nil)
	req.Header.Set("X-Cookie-Middleware", "forged by the client")
	resp, b := do(t, req)
	env := environOf(t, string(b))
	if resp.StatusCode != 200 {
		t.Fatalf("GET /env/a%%20b = %d %q", resp.StatusCode, b)
	}
	if got := resp.Header.Get("Set-Cookie"); got != "stupid=cookie; Path=/" {
		t.Errorf("Set-Cookie = %q, want the cookie middleware's", got)
	}
	for k, want := range map[string]string{
		"HTTP_X_COOKIE_MIDDLEWARE": "seen", "wasmhost.plugin": "environ",
		"SCRIPT_NAME": "/env", "PATH_INFO": "/a b", "QUERY_STRING": "x=1", "REQUEST_URI": "/env/a%20b?x=1",
	} {
		if env[k] != want {
			t.Errorf("app environ %s = %q, want %q", k, env[k], want)
		}
	}

	resp, body := s.get(t, "/app?code=500")
	if resp.StatusCode != 500 || !strings.Contains(body, "Something went wrong") || strings.Contains(body, "app text") {
		t.Errorf("a 500 from the app = %d %q, want the error middleware's page without the app's text", resp.StatusCode, body)
	}
	if resp.Header.Get("Set-Cookie") == "" || resp.Header.Get("X-Error-Page") != "errorpage" {
		t.Errorf("a 500 through the chain has headers %v, want the cookie and the error page's marker", resp.Header)
	}
	resp, body = s.get(t, "/app?code=201")
	if resp.StatusCode != 201 || !strings.HasPrefix(body, "app text for 201") || resp.Header.Get("Set-Cookie") == "" {
		t.Errorf("a 201 from the app = %d %q %v, want it untouched with the cookie", resp.StatusCode, body, resp.Header)
	}

	// /status and /metrics show each link.
	links := s.srv.Status().Chains["status"]
	if len(links) != 3 || links[0].Name != "errorpage" || links[1].Name != "cookie" || links[2].Name != "status" ||
		links[0].Requests != 2 || links[2].Requests != 2 || links[0].TimeMS < links[2].TimeMS {
		t.Errorf("/status chains[status] = %+v, want errorpage, cookie, status with 2 requests each, outer time including inner", links)
	}
	metrics := httptestServer(t, s.srv.AdminHandler())
	_, text := fetch(t, http.DefaultClient, "GET", metrics+"/metrics", nil)
	if !strings.Contains(text, `wasmhost_link_requests_total{worker="0",plugin="status",link="cookie",position="1"} 2`) {
		t.Errorf("/metrics lacks the per-link request count:\n%s", text)
	}
}

func TestChainEnviron(t *testing.T) {
	s := startSite(t, twoMiddleware+`
plugin "environ" {
  path       = "{{environ}}"
  mount      = "/env"
  middleware = ["mw1", "mw2"]
}`)
	if _, body := s.get(t, "/env/a/b?env=mw2"); body != "plugin=mw2 script=/env path=/a/b\n" {
		t.Errorf("the second middleware's environ: %q", body)
	}
	_, body := s.get(t, "/env/a/b?path=mw1&x=1")
	env := environOf(t, body)
	for k, want := range map[string]string{
		"wasmhost.plugin": "environ", "SCRIPT_NAME": "/env", "PATH_INFO": "/rewritten",
		"QUERY_STRING": "path=mw1&x=1", "REQUEST_URI": "/env/a/b?path=mw1&x=1", "HTTP_X_VIA": "mw1, mw2",
	} {
		if env[k] != want {
			t.Errorf("the app's %s = %q, want %q", k, env[k], want)
		}
	}
}

func TestChainAuthAnswersAlone(t *testing.T) {
	s := startSite(t, `
plugin "auth" {
  path = "{{auth}}"
  env  = { AUTH_TOKEN = "open-sesame" }
}
plugin "app" {
  path       = "{{status}}"
  mount      = "/"
  middleware = ["auth"]
}`)
	for _, auth := range []string{"", "Bearer wrong", "Basic b3Blbi1zZXNhbWU="} {
		req, _ := http.NewRequest("GET", s.base+"/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, b := do(t, req)
		if resp.StatusCode != 401 || strings.Contains(string(b), "app text") {
			t.Errorf("Authorization %q: %d %q, want 401 from the middleware", auth, resp.StatusCode, b)
		}
	}
	if n := s.srv.Plugin("app").Stats().Requests; n != 0 {
		t.Fatalf("the app ran %d times for refused requests, want 0", n)
	}
	req, _ := http.NewRequest("GET", s.base+"/", nil)
	req.Header.Set("Authorization", "Bearer open-sesame")
	req.Header.Set("X-User", "mallory")
	resp, b := do(t, req)
	if resp.StatusCode != 200 || string(b) != "app text for 200; authorization=; user=token-holder\n" {
		t.Errorf("with the token: %d %q, want the app's answer without the token and with X-User from the middleware", resp.StatusCode, b)
	}
	if n := s.srv.Plugin("app").Stats().Requests; n != 1 {
		t.Errorf("the app ran %d times, want 1", n)
	}
}

func TestChainStreams(t *testing.T) {
	s := startSite(t, twoMiddleware+`
plugin "stream" {
  path       = "{{stream}}"
  mount      = "/stream"
  middleware = ["mw1", "mw2"]
}`)
	resp, err := http.Get(s.base + "/stream?n=5&delay=150")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if a, b := resp.Header.Get("X-Mw-Mw1"), resp.Header.Get("X-Mw-Mw2"); a != "mw1/base" || b != "mw2/base" {
		t.Errorf("X-Mw-Mw1, X-Mw-Mw2 = %q, %q, want both middleware's headers", a, b)
	}
	var reads []time.Time
	var all []byte
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			reads = append(reads, time.Now())
			all = append(all, buf[:n]...)
		}
		if err != nil {
			break
		}
	}
	if strings.Count(string(all), "\n") != 5 {
		t.Fatalf("body %q, want 5 lines", all)
	}
	if len(reads) < 3 || reads[len(reads)-1].Sub(reads[0]) < 300*time.Millisecond {
		t.Errorf("%d reads over %v, want at least 3 spread over time: something in the chain buffered the stream", len(reads), reads[len(reads)-1].Sub(reads[0]))
	}
}

func TestChainEchoesTenMiB(t *testing.T) {
	s := startSite(t, `server { max_body_size = "16MB" }`+twoMiddleware+`
plugin "echo" {
  path       = "{{echo}}"
  mount      = "/echo"
  timeout    = "60s"
  middleware = ["mw1", "mw2"]
}`)
	body := make([]byte, 10<<20)
	rand.Read(body)
	resp, err := http.Post(s.base+"/echo", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("10 MiB echo through two middleware: status %d, %d bytes back, equal %v, err %v", resp.StatusCode, len(got), bytes.Equal(got, body), err)
	}
	for _, name := range []string{"mw1", "mw2", "echo"} {
		st := s.srv.Plugin(name).Stats()
		if growth := int64(st.MemoryHighWater) - int64(st.MemoryInitial); growth >= 4<<20 {
			t.Errorf("%s: guest memory grew by %d bytes, want under 4 MiB", name, growth)
		}
	}
	// A body a middleware supplies is bounded by max_body_size too: the
	// answer must not look complete.
	resp, err = http.Post(s.base+"/echo?grow=mw1", "text/plain", strings.NewReader("seed"))
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 && err == nil {
		t.Errorf("an endless body from a middleware: %d, %d bytes, complete; want 413 or a broken response", resp.StatusCode, len(got))
	}
	// A middleware that replaces the body: the echo gets its reader's bytes.
	resp, err = http.Post(s.base+"/echo?upper=mw2", "text/plain", strings.NewReader(strings.Repeat("shout ", 20000)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != strings.Repeat("SHOUT ", 20000) {
		t.Errorf("echo through an upper-casing body: %d bytes, %.40q...", len(got), got)
	}
}

func TestChainTrapsAndDeadline(t *testing.T) {
	s := startSite(t, twoMiddleware+`
plugin "panic" {
  path       = "{{panic}}"
  mount      = "/panic"
  middleware = ["mw1", "mw2"]
}
plugin "loop" {
  path       = "{{loop}}"
  mount      = "/loop"
  timeout    = "1s"
  middleware = ["mw1", "mw2"]
}`)
	for _, path := range []string{"/panic?panic=mw2", "/panic?panic=1", "/panic?panic=mw1", "/panic?after=1"} {
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if path == "/panic?after=1" {
			// The app had started its answer: the response must be broken.
			if err == nil {
				t.Errorf("%s: a complete response %q, want a broken one", path, b)
			}
			continue
		}
		if resp.StatusCode != 500 {
			t.Errorf("%s = %d %q, want 500", path, resp.StatusCode, b)
		}
	}
	if _, body := s.get(t, "/panic?panic=1"); strings.Contains(body, "deliberate panic") || strings.Contains(body, "guest") {
		t.Errorf("without serve_traceback, a trap behind a middleware shows %q", body)
	}
	for i := 0; i < 3; i++ {
		resp, body := s.get(t, "/panic")
		if resp.StatusCode != 200 || strings.TrimSpace(body) != "ok" {
			t.Errorf("after the traps: %d %q, want 200 ok (pools healthy)", resp.StatusCode, body)
		}
	}
	start := time.Now()
	resp, _ := s.get(t, "/loop")
	if d := time.Since(start); resp.StatusCode != 504 || d > 5*time.Second {
		t.Errorf("a looping app in a chain: %d after %v, want 504 at the chain's 1s deadline", resp.StatusCode, d)
	}
}

func TestChainMiddlewareSwapUnderLoad(t *testing.T) {
	va := testutil.PluginVariant(t, "plugins/testplugins/mw", "-X main.variant=a")
	vb := testutil.PluginVariant(t, "plugins/testplugins/mw", "-X main.variant=b")
	live := t.TempDir() + "/mw.wasm"
	testutil.CopyFile(t, va, live)
	s := startSiteLogging(t, `
plugin "mw" {
  path = "`+live+`"
  env  = { NAME = "mw" }
}
plugin "hello" {
  path       = "{{hello}}"
  mount      = "/"
  middleware = ["mw"]
}`, hclog.Info)
	var failed, ok atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{}
	var errs []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(s.base + "/")
				if err == nil {
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr != nil || resp.StatusCode != 200 || string(b) != "Hello, world\n" {
						err = fmt.Errorf("%d %q %v", resp.StatusCode, b, rerr)
					} else {
						mu.Lock()
						seen[resp.Header.Get("X-Mw-Mw")]++
						mu.Unlock()
					}
				}
				if err != nil {
					failed.Add(1)
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for i := 0; i < 6; i++ {
		src, want := vb, "mw/b"
		if i%2 == 1 {
			src, want = va, "mw/a"
		}
		testutil.CopyFile(t, src, live)
		deadline := time.Now().Add(30 * time.Second) // the first build of each variant compiles first
		for {
			resp, err := http.Get(s.base + "/")
			if err == nil {
				resp.Body.Close()
				if resp.Header.Get("X-Mw-Mw") == want {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("swap %d: %s not served within 30s", i+1, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests, %d failed; middleware variants seen %v", ok.Load(), failed.Load(), seen)
	if failed.Load() > 0 {
		t.Errorf("%d requests failed while the middleware was swapped: %v", failed.Load(), errs[:min(len(errs), 5)])
	}
	if seen["mw/a"] == 0 || seen["mw/b"] == 0 {
		t.Errorf("variants seen %v, want both", seen)
	}
}

func TestChainKindChecks(t *testing.T) {
	for _, c := range []struct{ name, hcl, want string }{
		{"handler as middleware", `
plugin "hello" { path = "{{hello}}" }
plugin "app" {
  path       = "{{status}}"
  mount      = "/app"
  middleware = ["hello"]
}`, `site.hcl:6,17-24: Handler used as middleware`},
		{"mounted middleware", `
plugin "mw" {
  path  = "{{mw}}"
  mount = "/mw"
}`, `site.hcl:4,11-16: Middleware mounted as a handler`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := startSiteError(t, c.hcl)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestChainSwapCannotChangeKind(t *testing.T) {
	live := t.TempDir() + "/app.wasm"
	testutil.CopyFile(t, testutil.Plugin(t, "plugins/examples/hello"), live)
	// No autoreload: the refused file would be retried by the watcher.
	s := startSite(t, `server { autoreload = false }
plugin "app" { path = "`+live+`" }`)
	testutil.CopyFile(t, testutil.Plugin(t, "plugins/testplugins/mw"), live)
	res, err := s.srv.ReloadPlugin("app")
	if err != nil || res.Swapped || !strings.Contains(res.Error, "cannot change what a plugin is") {
		t.Errorf("swapping a handler for a middleware: %+v %v, want it refused", res, err)
	}
	if resp, body := s.get(t, "/"); resp.StatusCode != 200 || body != "Hello, world\n" {
		t.Errorf("after the refused swap: %d %q, want the old version serving", resp.StatusCode, body)
	}
}

// startSiteError builds the plugins of a site and returns host.New's error.
func startSiteError(t *testing.T, hcl string) error {
	t.Helper()
	for name, dir := range plugins {
		hcl = strings.ReplaceAll(hcl, "{{"+name+"}}", testutil.Plugin(t, dir))
	}
	cfg, diags := config.Parse([]byte(hcl), filepath.Join(t.TempDir(), "site.hcl"))
	if diags.HasErrors() {
		return errors.New(config.FormatDiagnostics(diags))
	}
	l, err := loader.New(loader.Options{CacheDir: testutil.CacheDir(t), Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	srv, err := host.New(context.Background(), host.Options{Site: host.SiteOf(cfg), Loader: l, Version: "test"})
	if err == nil {
		srv.Shutdown(context.Background())
	}
	return err
}

// do sends req and reads the whole answer.
func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

func TestChainChangesOnReload(t *testing.T) {
	hello, mw := testutil.Plugin(t, "plugins/examples/hello"), testutil.Plugin(t, "plugins/testplugins/mw")
	site := func(list string) string {
		return `plugin "mw1" {
  path = "` + mw + `"
  env  = { NAME = "mw1" }
}
plugin "other" {
  path       = "` + hello + `"
  mount      = "/other"
  middleware = ["mw1"]
}
plugin "hello" {
  path       = "` + hello + `"
  mount      = "/"
  middleware = [` + list + `]
}`
	}
	s := startSite(t, site(""))
	loaded := s.srv.Plugin("hello").LoadedAt
	if resp, _ := s.get(t, "/"); resp.Header.Get("X-Mw-Mw1") != "" {
		t.Fatalf("served through mw1 before it was listed")
	}
	cfg, diags := config.Parse([]byte(site(`"mw1", "gzip"`)), filepath.Join(t.TempDir(), "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if err := s.srv.Reload(context.Background(), host.SiteOf(cfg)); err != nil {
		t.Fatal(err)
	}
	resp, body := s.get(t, "/")
	if resp.Header.Get("X-Mw-Mw1") != "mw1/base" || resp.Header.Get("Vary") != "Accept-Encoding" || body != "Hello, world\n" {
		t.Errorf("after adding the chain: %v %q, want it served through mw1 and gzip", resp.Header, body)
	}
	if s.srv.Plugin("hello").LoadedAt != loaded {
		t.Errorf("the plugin was loaded again for a change of its middleware list")
	}
}

func TestChainTracebackOnlyWhenOn(t *testing.T) {
	s := startSite(t, `server { serve_traceback = true }
plugin "mw1" {
  path = "{{mw}}"
  env  = { NAME = "mw1" }
}
plugin "panic" {
  path       = "{{panic}}"
  mount      = "/"
  middleware = ["mw1"]
}`)
	resp, body := s.get(t, "/?panic=1")
	if resp.StatusCode != 500 || !strings.Contains(body, "plugin panic: guest panic") {
		t.Errorf("under serve_traceback, a trap behind a middleware: %d %q, want the failure named", resp.StatusCode, body)
	}
}

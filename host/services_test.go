package host_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

func init() { plugins["services"] = "plugins/testplugins/services" }

func servicesSite(t *testing.T, extra string) *site {
	t.Helper()
	return startSite(t, fmt.Sprintf(`
server { max_body_size = "128MB" }
kv "default" { path = %q }
kv "other" { path = %q }
plugin "services" {
  path          = "{{services}}"
  kv            = ["default"]
  %s
}
plugin "bare" {
  path  = "{{services}}"
  mount = "/bare"
}
`, filepath.Join(t.TempDir(), "default.kv"), filepath.Join(t.TempDir(), "other.kv"), extra))
}

func expect(t *testing.T, s *site, path string, status int, body string) {
	t.Helper()
	resp, got := s.get(t, path)
	if resp.StatusCode != status || (body != "*" && got != body) {
		t.Errorf("GET %s = %d %q; want %d %q", path, resp.StatusCode, got, status, body)
	}
}

func expectContains(t *testing.T, s *site, path string, status int, parts ...string) {
	t.Helper()
	resp, got := s.get(t, path)
	if resp.StatusCode != status {
		t.Errorf("GET %s = %d %q; want %d", path, resp.StatusCode, got, status)
	}
	for _, p := range parts {
		if !strings.Contains(got, p) {
			t.Errorf("GET %s = %q; want it to contain %q", path, got, p)
		}
	}
}

func TestKVFromPlugin(t *testing.T) {
	s := servicesSite(t, "")
	expectContains(t, s, "/kv/get?key=a", 404, "not found")
	expect(t, s, "/kv/delete?key=a", 200, "ok")
	expect(t, s, "/kv/exists?key=a", 200, "false")
	expect(t, s, "/kv/set?key=user:2&value=bob", 200, "ok")
	expect(t, s, "/kv/set?key=user:1&value=alice", 200, "ok")
	expect(t, s, "/kv/set?key=other&value=x", 200, "ok")
	expect(t, s, "/kv/get?key=user:1", 200, "alice")
	expect(t, s, "/kv/exists?key=user:1", 200, "true")
	expect(t, s, "/kv/keys?prefix=user:", 200, "user:1,user:2")
	expect(t, s, "/kv/incr?key=n&delta=41", 200, "41")
	expect(t, s, "/kv/incr?key=n", 200, "42")
	expect(t, s, "/kv/cas?key=c&absent=1&new=1", 200, "true")
	expect(t, s, "/kv/cas?key=c&absent=1&new=2", 200, "false")
	expect(t, s, "/kv/cas?key=c&old=0&new=2", 200, "false")
	expect(t, s, "/kv/cas?key=c&old=1&new=2", 200, "true")
	expect(t, s, "/kv/get?key=c", 200, "2")
	expect(t, s, "/kv/delete?key=user:1", 200, "ok")
	expect(t, s, "/kv/keys?prefix=user:", 200, "user:2")
	// A large value: beyond the guest's first buffer, fetched with result_get.
	expect(t, s, "/kv/setsize?key=big&n=100000", 200, "ok")
	if resp, body := s.get(t, "/kv/get?key=big"); resp.StatusCode != 200 || len(body) != 100000 {
		t.Errorf("big value: %d, %d bytes", resp.StatusCode, len(body))
	}

	// Bounds and refusals, each with a message that names the problem.
	expectContains(t, s, "/kv/setsize?key=huge&n=2000000", 500, "limit of 1048576")
	expectContains(t, s, "/kv/get?key=", 500, "empty key")
	expectContains(t, s, "/kv/open?store=other", 500, `"other" is not granted to plugin "services"`)
	expectContains(t, s, "/kv/open?store=nope", 500, `"nope" is not declared`)
	expectContains(t, s, "/bare/kv/open?store=default", 500, `not granted to plugin "bare"`)
	expectContains(t, s, "/kv/incr?key=user:2", 500, "not an integer")

	metrics := adminMetrics(t, s)
	for _, want := range []string{
		`wasmhost_kv_operations_total{worker="0",store="default",op="increment",outcome="ok"} 2`,
		`wasmhost_kv_operations_total{worker="0",store="default",op="get",outcome="not_found"} 1`,
		`wasmhost_kv_operations_total{worker="0",store="default",op="increment",outcome="error"} 1`,
		`wasmhost_kv_operation_duration_seconds_count{worker="0",store="default",op="set"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func adminMetrics(t *testing.T, s *site) string {
	t.Helper()
	resp, err := http.Get(httptestServer(t, s.srv.AdminHandler()) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// upstream is a loopback server with the routes the outbound tests use.
func upstream(t testing.TB, closed chan<- struct{}) *httptest.Server {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Answer", "42")
		w.WriteHeader(201)
		io.WriteString(w, "hello from upstream")
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from upstream") })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	})
	mux.HandleFunc("/parts", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 5; i++ {
			if i > 0 {
				time.Sleep(150 * time.Millisecond)
			}
			fmt.Fprintf(w, "part %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		closed <- struct{}{}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestOutboundHTTP(t *testing.T) {
	closed := make(chan struct{}, 1)
	up := upstream(t, closed)
	s := servicesSite(t, fmt.Sprintf(`allowed_hosts = [%q]
  timeout = "2s"`, up.URL))

	resp, body := s.get(t, "/fetch?url="+up.URL+"/hello")
	if resp.StatusCode != 201 || resp.Header.Get("X-Answer") != "42" || body != "hello from upstream" {
		t.Errorf("fetch: %d %q %q", resp.StatusCode, resp.Header, body)
	}

	resp, body = s.get(t, "/fetch?client=sdk&url="+up.URL+"/hello")
	if resp.StatusCode != 201 || body != "hello from upstream" {
		t.Errorf("fetch with sdk.HTTPClient(): %d %q", resp.StatusCode, body)
	}

	_, body = s.get(t, "/fetch?url="+up.URL+"/big")
	want := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16)
	if body != string(want) {
		t.Errorf("3 MiB download: got %d bytes, not byte-exact", len(body))
	}

	upload := make([]byte, 2<<20)
	for i := range upload {
		upload[i] = byte(i * 7)
	}
	// A reader without a length: the body is streamed, chunked.
	r, err := http.Post(s.base+"/upload?url="+up.URL+"/sum", "application/octet-stream", io.MultiReader(bytes.NewReader(upload)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if wantSum := fmt.Sprintf("%d %x", len(upload), sha256.Sum256(upload)); string(got) != wantSum {
		t.Errorf("2 MiB upload: upstream saw %q, want %q", got, wantSum)
	}

	// Streamed parts arrive as the upstream sends them.
	r, err = http.Get(s.base + "/fetch?url=" + up.URL + "/parts")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	buf := make([]byte, 64)
	var arrivals []time.Duration
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			arrivals = append(arrivals, time.Since(start))
		}
		if err != nil {
			break
		}
	}
	r.Body.Close()
	if len(arrivals) < 4 {
		t.Errorf("5 parts 150ms apart came in %d reads (%v): not relayed as they arrived", len(arrivals), arrivals)
	}

	// Refusals.
	for _, c := range []struct{ path, dest string }{
		{"/fetch?url=http://127.0.0.1:1/", "127.0.0.1:1"},
		{"/fetch?url=http://169.254.169.254/latest/meta-data/", "169.254.169.254"},
		{"/bare/fetch?url=" + up.URL + "/hello", strings.TrimPrefix(up.URL, "http://")},
		{"/fetch?url=" + up.URL + "/redirect?to=http://169.254.169.254/", "169.254.169.254"},
	} {
		expectContains(t, s, c.path, 502, "not allowed", c.dest)
	}
	if logs := s.logs.String(); !strings.Contains(logs, "outbound request refused") || !strings.Contains(logs, "plugin=bare") {
		t.Errorf("refusals are not logged with the plugin's name:\n%s", logs)
	}

	metrics := adminMetrics(t, s)
	for _, want := range []string{
		`wasmhost_outbound_requests_total{worker="0",plugin="services",allowed_host="` + up.URL + `",status="201"} 2`,
		`wasmhost_outbound_request_duration_seconds_count{worker="0",plugin="services",allowed_host="` + up.URL + `"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The inbound request's timeout (2s) cancels the outbound request.
	resp, _ = s.get(t, "/fetch?url="+up.URL+"/hang")
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Errorf("the upstream did not see the outbound request end (inbound status %d)", resp.StatusCode)
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestOutboundStreams moves 100 MiB each way through a plugin: neither the
// guest's linear memory nor the host's heap may grow by anything near it.
func TestOutboundStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 200 MiB")
	}
	const size = 100 << 20
	mux := http.NewServeMux()
	mux.HandleFunc("/zeros", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, io.LimitReader(zeros{}, size))
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	up := httptest.NewServer(mux)
	defer up.Close()
	s := servicesSite(t, fmt.Sprintf(`allowed_hosts = [%q]
  timeout = "60s"`, up.URL))
	s.get(t, "/kv/open") // warm

	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	resp, err := http.Get(s.base + "/fetch?url=" + up.URL + "/zeros")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != size {
		t.Errorf("download: %d bytes, want %d", n, size)
	}
	resp, err = http.Post(s.base+"/upload?url="+up.URL+"/count", "application/octet-stream", io.LimitReader(zeros{}, size))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != fmt.Sprint(size) {
		t.Errorf("upload: upstream got %s bytes, want %d", got, size)
	}
	close(stop)
	<-sampled

	t.Logf("host heap in use grew by at most %d KiB; guest memory high water %d KiB",
		(int64(peak.Load())-int64(base.HeapInuse))>>10, s.srv.PluginStats()["services"].MemoryHighWater>>10)
	if grew := int64(peak.Load()) - int64(base.HeapInuse); grew > 32<<20 {
		t.Errorf("host heap grew by %d MiB while 100 MiB streamed each way", grew>>20)
	}
	if mem := s.srv.PluginStats()["services"].MemoryHighWater; mem > 32<<20 {
		t.Errorf("guest linear memory reached %d MiB while 100 MiB streamed each way", mem>>20)
	}
}

// A reload that replaces a kv block's declaration closes the old store once
// the requests that may still use it are over (here after the test's short
// grace); one that keeps the declaration keeps the open store.
func TestReloadClosesReplacedStores(t *testing.T) {
	dir := t.TempDir()
	services := testutil.Plugin(t, "plugins/testplugins/services")
	text := func(kvPath string, extra string) string {
		return fmt.Sprintf(`
kv "default" { path = %q }
plugin "services" {
  path = %q
  kv   = ["default"]
  %s
}`, filepath.Join(dir, kvPath), services, extra)
	}
	s := startSite(t, text("a.kv", ""))
	host.SetStoreGrace(s.srv, 50*time.Millisecond)
	reload := func(hcl string) {
		t.Helper()
		cfg, diags := config.Parse([]byte(hcl), filepath.Join(dir, "site.hcl"))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if err := s.srv.Reload(context.Background(), host.SiteOf(cfg)); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, s, "/kv/set?key=k&value=a", 200, "ok")
	if n := host.OpenStores(s.srv); n != 1 {
		t.Fatalf("%d stores open after the first use, want 1", n)
	}

	// The plugin's block changes, the store's does not: the same store.
	reload(text("a.kv", `timeout = "9s"`))
	expect(t, s, "/kv/get?key=k", 200, "a")
	time.Sleep(200 * time.Millisecond)
	if n := host.OpenStores(s.srv); n != 1 {
		t.Fatalf("%d stores open after a reload that kept the declaration, want 1", n)
	}

	// The store's path changes: a new store, and the old one closes.
	reload(text("b.kv", ""))
	expectContains(t, s, "/kv/get?key=k", 404, "not found")
	expect(t, s, "/kv/set?key=k&value=b", 200, "ok")
	deadline := time.Now().Add(5 * time.Second)
	for host.OpenStores(s.srv) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := host.OpenStores(s.srv); n != 1 {
		t.Fatalf("%d stores open after the old declaration's grace, want 1 (the new one)", n)
	}
	expect(t, s, "/kv/get?key=k", 200, "b")

	// Back to the first path: its file still has what was written there.
	reload(text("a.kv", ""))
	expect(t, s, "/kv/get?key=k", 200, "a")
}

package host_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/serving"
	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader"
)

// site is a running server for one test.
type site struct {
	srv    *host.Server
	base   string
	bases  []string // one per listener
	logs   *testutil.LockedBuffer
	loader *loader.Loader
}

// plugins maps a plugin name to its package folder, for the test sites.
var plugins = map[string]string{
	"hello":   "plugins/examples/hello",
	"hellogw": "plugins/examples/hellogw",
	"environ": "plugins/examples/environ",
	"echo":    "plugins/examples/echo",
	"stream":  "plugins/examples/stream",
	"panic":   "plugins/testplugins/panic",
	"slow":    "plugins/testplugins/slow",
	"loop":    "plugins/testplugins/loop",
	"alloc":   "plugins/testplugins/alloc",
	"bigbody": "plugins/testplugins/bigbody",
	"badptr":  "plugins/testplugins/badptr",
	"fsread":  "plugins/testplugins/fsread",
	"cpu":     "plugins/testplugins/cpu",
}

// startSite builds the plugins a site.hcl text names (as {{name}} in a path)
// and serves it on a loopback port until the test ends.
func startSite(t testing.TB, hcl string) *site {
	t.Helper()
	return startSiteLogging(t, hcl, hclog.Debug)
}

func startSiteLogging(t testing.TB, hcl string, level hclog.Level) *site {
	t.Helper()
	return startSiteOptions(t, hcl, level, false)
}

// startSiteOptions can also turn interruption off, for benchmarks only.
func startSiteOptions(t testing.TB, hcl string, level hclog.Level, noInterruption bool) *site {
	t.Helper()
	return startSiteWith(t, hcl, level, noInterruption, testutil.CacheDir(t))
}

// startSiteCache serves with the given compilation cache folder ("" for
// none on disk: every module compiles afresh).
func startSiteCache(t testing.TB, hcl, cacheDir string) *site {
	t.Helper()
	return startSiteWith(t, hcl, hclog.Warn, false, cacheDir)
}

func startSiteWith(t testing.TB, hcl string, level hclog.Level, noInterruption bool, cacheDir string) *site {
	t.Helper()
	return startSiteOpts(t, hcl, siteOptions{level: level, noInterruption: noInterruption, cacheDir: cacheDir})
}

// startSiteListeners serves on n loopback listeners, in listen order.
func startSiteListeners(t testing.TB, hcl string, n int) *site {
	t.Helper()
	return startSiteOpts(t, hcl, siteOptions{level: hclog.Debug, cacheDir: testutil.CacheDir(t), listeners: n})
}

// startEngineSite serves hcl with every plugin on one engine.
func startEngineSite(t testing.TB, engine, hcl string) *site {
	t.Helper()
	return startSiteOpts(t, hcl, siteOptions{level: hclog.Debug, cacheDir: testutil.CacheDir(t), engine: engine})
}

// forEachEngine runs a test once per engine, as subtests named after them:
// every guarantee of the host holds on each engine.
func forEachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	for _, engine := range loader.Engines() {
		t.Run(engine, func(t *testing.T) { test(t, engine) })
	}
}

type siteOptions struct {
	level          hclog.Level
	noInterruption bool   // for benchmarks only
	cacheDir       string // "" for no cache on disk
	listeners      int    // 0 for 1
	engine         string // overrides every plugin's engine when set
}

func startSiteOpts(t testing.TB, hcl string, o siteOptions) *site {
	t.Helper()
	n := max(o.listeners, 1)
	level, noInterruption, cacheDir := o.level, o.noInterruption, o.cacheDir
	for name, dir := range plugins {
		if strings.Contains(hcl, "{{"+name+"}}") {
			hcl = strings.ReplaceAll(hcl, "{{"+name+"}}", testutil.Plugin(t, dir))
		}
	}
	cfg, diags := config.Parse([]byte(hcl), filepath.Join(t.TempDir(), "site.hcl"))
	if diags.HasErrors() {
		t.Fatalf("site.hcl: %s", config.FormatDiagnostics(diags))
	}
	if o.engine != "" {
		cfg.Server.Engine = o.engine
		for i := range cfg.Plugins {
			cfg.Plugins[i].Engine = o.engine
		}
	}
	logs := &testutil.LockedBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Name: "wasmhost", Output: logs, Level: level})
	l, err := loader.New(loader.Options{CacheDir: cacheDir, Logger: log, NoInterruption: noInterruption})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := host.New(context.Background(), host.Options{Site: host.SiteOf(cfg), Loader: l, Logger: log, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var lns []net.Listener
	var bases []string
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		bases = append(bases, "http://"+ln.Addr().String())
	}
	// As wasmhost run serves them: wrapped for draining, which also keeps
	// the connections' deadlines (internal/serving).
	_, lns = serving.NewDrainer(lns, cfg.Server)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lns) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		l.Close(ctx)
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &site{srv: srv, base: bases[0], bases: bases, logs: logs, loader: l}
}

// get requests path and reads the whole response; it fails the test at
// once on an error, so call it only from the test's goroutine (others use
// tryGet).
func (s *site) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, body, err := s.tryGet(path)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// tryGet is get returning its error, for any goroutine.
func (s *site) tryGet(path string) (*http.Response, string, error) {
	resp, err := http.Get(s.base + path)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: reading body: %w", path, err)
	}
	return resp, string(b), nil
}

const exampleSite = `
server {
  max_body_size = "16MB"
}
plugin "hello"   { path = "{{hello}}" }
plugin "environ" {
  path  = "{{environ}}"
  mount = "/env"
  env   = { GREETING = "hi" }
}
plugin "echo" {
  path      = "{{echo}}"
  mount     = "/echo"
  instances = 1
}
plugin "stream" {
  path  = "{{stream}}"
  mount = "/stream"
}
`

func TestHello(t *testing.T) { forEachEngine(t, testHello) }

func testHello(t *testing.T, engine string) {
	s := startEngineSite(t, engine, exampleSite)
	resp, body := s.get(t, "/")
	if resp.StatusCode != 200 || body != "Hello, world\n" {
		t.Fatalf("GET / = %d %q, want 200 \"Hello, world\\n\"", resp.StatusCode, body)
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length = %d, want %d (a response never flushed gets one)", resp.ContentLength, len(body))
	}
	if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain (sniffed by the SDK)", got)
	}
}

func environOf(t *testing.T, body string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			k = strings.TrimSuffix(line, ":")
		}
		env[k] = v
	}
	return env
}

func TestEnviron(t *testing.T) { forEachEngine(t, testEnviron) }

func testEnviron(t *testing.T, engine string) {
	s := startEngineSite(t, engine, exampleSite)
	req, _ := http.NewRequest("GET", s.base+"/env/a/b?x=1", nil)
	req.Header.Set("User-Agent", "wasmhost-test/1.0")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("X_Spoof", "dropped")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	env := environOf(t, string(b))
	want := map[string]string{
		"REQUEST_METHOD":          "GET",
		"SCRIPT_NAME":             "/env",
		"PATH_INFO":               "/a/b",
		"QUERY_STRING":            "x=1",
		"REQUEST_URI":             "/env/a/b?x=1",
		"SERVER_PROTOCOL":         "HTTP/1.1",
		"SERVER_NAME":             "127.0.0.1",
		"HTTP_USER_AGENT":         "wasmhost-test/1.0",
		"HTTP_X_MULTI":            "one, two",
		"REMOTE_ADDR":             "127.0.0.1",
		"wasmhost.plugin":         "environ",
		"wasmhost.plugin_version": s.srv.Plugin("environ").Version,
		"wasmhost.engine":         engine,
		"wasmhost.url_scheme":     "http",
		"wasmhost.worker_id":      "0",
		"wasmhost.version":        "test",
		"GREETING":                "hi",
		"CONTENT_LENGTH":          "",
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("environ[%s] = %q (present %v), want %q", k, got, ok, v)
		}
	}
	for _, k := range []string{"REMOTE_PORT", "SERVER_PORT", "wasmhost.request_id", "HTTP_HOST"} {
		if env[k] == "" {
			t.Errorf("environ[%s] is empty", k)
		}
	}
	if _, ok := env["HTTP_X_SPOOF"]; ok {
		t.Errorf("a header with an underscore reached the environ as HTTP_X_SPOOF")
	}
	if len(s.srv.Plugin("environ").Version) != 12 {
		t.Errorf("plugin version %q is not 12 hex digits", s.srv.Plugin("environ").Version)
	}
}

func TestRoutingOnSegmentBoundaries(t *testing.T) {
	s := startSite(t, exampleSite)
	cases := []struct{ path, script, pathInfo string }{
		{"/env", "/env", ""},
		{"/env/", "/env", "/"},
		{"/env/x", "/env", "/x"},
		{"/env/a%20b", "/env", "/a b"},
	}
	for _, c := range cases {
		_, body := s.get(t, c.path)
		env := environOf(t, body)
		if env["SCRIPT_NAME"] != c.script || env["PATH_INFO"] != c.pathInfo {
			t.Errorf("GET %s: SCRIPT_NAME=%q PATH_INFO=%q, want %q %q", c.path, env["SCRIPT_NAME"], env["PATH_INFO"], c.script, c.pathInfo)
		}
	}
	if _, body := s.get(t, "/envelope"); body != "Hello, world\n" {
		t.Errorf("GET /envelope went to %q, want the hello plugin at /", body)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(s.base + "/env/../echo/x?q=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/echo/x?q=1" {
		t.Errorf("dot segments: %d Location %q, want 301 to /echo/x?q=1", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestEchoStreamsTenMiB(t *testing.T) { forEachEngine(t, testEchoStreamsTenMiB) }

func testEchoStreamsTenMiB(t *testing.T, engine string) {
	s := startEngineSite(t, engine, exampleSite)
	payload := make([]byte, 10<<20)
	rand.Read(payload)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(payload)
		if chunked {
			body = io.MultiReader(body) // hides the length: Transfer-Encoding: chunked
		}
		resp, err := http.Post(s.base+"/echo", "application/octet-stream", body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, payload) {
			t.Fatalf("echo (chunked=%v): status %d, %d bytes back, err %v; want the same 10 MiB", chunked, resp.StatusCode, len(got), err)
		}
	}
	st := s.srv.Plugin("echo").Stats()
	growth := int64(st.MemoryHighWater) - int64(st.MemoryInitial)
	t.Logf("echo linear memory: %d KiB at start, %d KiB at most", st.MemoryInitial>>10, st.MemoryHighWater>>10)
	if growth >= 4<<20 {
		t.Errorf("linear memory grew by %d KiB echoing 10 MiB; streaming should keep it under 4 MiB", growth>>10)
	}
	if st.Created != 1 {
		t.Errorf("echo used %d instances, want 1 (instances = 1)", st.Created)
	}
}

func TestBodyLimit(t *testing.T) {
	s := startSite(t, strings.Replace(exampleSite, `"16MB"`, `"1MB"`, 1))
	big := bytes.Repeat([]byte("x"), 2<<20)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(big)
		if chunked {
			body = io.MultiReader(body)
		}
		resp, err := http.Post(s.base+"/echo", "text/plain", body)
		if err != nil {
			t.Fatalf("chunked=%v: %v", chunked, err)
		}
		n, readErr := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusRequestEntityTooLarge:
		case chunked && resp.StatusCode == 200 && readErr != nil:
			// echo was already streaming its answer when the body passed
			// the limit: the response must be broken, not complete.
		default:
			t.Errorf("2 MiB body over a 1 MiB limit (chunked=%v): status %d, %d bytes, read error %v; want 413 or a broken response",
				chunked, resp.StatusCode, n, readErr)
		}
	}
}

func TestStreamArrivesInChunks(t *testing.T) { forEachEngine(t, testStreamArrivesInChunks) }

func testStreamArrivesInChunks(t *testing.T, engine string) {
	s := startEngineSite(t, engine, exampleSite)
	resp, err := http.Get(s.base + "/stream?n=5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("Transfer-Encoding = %v, want chunked", resp.TransferEncoding)
	}
	var arrivals []time.Time
	var chunks []string
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			arrivals = append(arrivals, time.Now())
			chunks = append(chunks, string(buf[:n]))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(chunks, "") != "chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n" {
		t.Fatalf("body = %q", strings.Join(chunks, ""))
	}
	if len(chunks) != 5 {
		t.Fatalf("got the body in %d reads %q, want 5 separate reads", len(chunks), chunks)
	}
	// The guest sleeps 50 ms between chunks, so 4 gaps separate the first
	// read from the last by at least ~200 ms; a buffered response would
	// arrive at once.
	if span := arrivals[4].Sub(arrivals[0]); span < 150*time.Millisecond {
		t.Errorf("first and last chunk arrived %v apart; a streamed response spreads over ~200ms", span)
	}
}

func TestConcurrentRequestsReuseInstances(t *testing.T) {
	s := startSite(t, `plugin "hello" {
  path = "{{hello}}"
  instances = 4
}`)
	const total, clients = 2000, 32
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, total)
	next := make(chan int, total)
	for i := 0; i < total; i++ {
		next <- i
	}
	close(next)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				resp, err := client.Get(s.base + "/")
				if err != nil {
					errs <- err
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(b) != "Hello, world\n" {
					errs <- fmt.Errorf("status %d body %q err %v", resp.StatusCode, b, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed < 5 {
			t.Error(err)
		}
		failed++
	}
	if failed > 0 {
		t.Fatalf("%d of %d requests failed", failed, total)
	}
	st := s.srv.Plugin("hello").Stats()
	t.Logf("stats: %+v", st)
	if st.MaxLive > 4 {
		t.Errorf("up to %d live instances, over the cap of 4", st.MaxLive)
	}
	if st.Requests != total {
		t.Errorf("%d guest calls, want %d", st.Requests, total)
	}
	if st.Created > 4 || st.Discarded != 0 {
		t.Errorf("created %d and discarded %d instances; healthy requests should reuse at most 4", st.Created, st.Discarded)
	}
	if st.Reused < total-4 {
		t.Errorf("only %d of %d requests reused an instance", st.Reused, total)
	}
	if st.Live != st.Idle || st.Busy != 0 {
		t.Errorf("after the load: %d live, %d idle, %d busy; want all live ones idle", st.Live, st.Idle, st.Busy)
	}
}

func TestPanicIsContained(t *testing.T) {
	s := startSite(t, `plugin "panic" {
  path = "{{panic}}"
  instances = 2
}`)
	resp, body := s.get(t, "/?panic=boom")
	if resp.StatusCode != 500 {
		t.Fatalf("panicking handler: status %d, want 500", resp.StatusCode)
	}
	if strings.Contains(body, "boom") || strings.Contains(body, "goroutine") {
		t.Errorf("500 page leaks guest internals without serve_traceback: %q", body)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "deliberate panic: boom") || !strings.Contains(logs, "wasmhost.panic") {
		t.Errorf("the host log should have the panic text under the plugin's name; log:\n%s", logs)
	}
	if resp, body := s.get(t, "/"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("request after the panic: %d %q, want 200 ok", resp.StatusCode, body)
	}
	if st := s.srv.Plugin("panic").Stats(); st.Discarded != 1 {
		t.Errorf("%d instances discarded, want exactly the one that panicked", st.Discarded)
	}

	// After the status line is out, a failure must break the response.
	if status, b := getBroken(t, s.base+"/?after=1"); status != 200 || !strings.HasPrefix(b, "first chunk") {
		t.Errorf("panic after flush: status %d body %q, want 200 and the first chunk", status, b)
	}
}

// getBroken GETs url, whose guest fails after sending its status line, and
// fails the test unless the body ends in an error rather than cleanly.
func getBroken(t *testing.T, url string) (status int, body string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("GET %s: body %q ended cleanly; the client must see a broken response", url, b)
	}
	return resp.StatusCode, string(b)
}

func TestServeTraceback(t *testing.T) {
	s := startSite(t, `server { serve_traceback = true }
plugin "panic" { path = "{{panic}}" }`)
	resp, body := s.get(t, "/?panic=traced")
	if resp.StatusCode != 500 || !strings.Contains(body, "deliberate panic: traced") || !strings.Contains(body, "main.init") {
		t.Errorf("serve_traceback page: %d %q; want 500 with the panic message and a guest function name", resp.StatusCode, body)
	}
}

func TestTimeoutAndWaiting(t *testing.T) {
	s := startSite(t, `plugin "slow" {
  path      = "{{slow}}"
  instances = 1
  timeout   = "1500ms"
}`)
	start := time.Now()
	resp, _ := s.get(t, "/?ms=60000")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("guest past its timeout: status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a 1.5s timeout took %v", d)
	}
	// With one instance, a second request waits for the first instead of failing.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _, err := s.tryGet("/?ms=300")
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Errorf("two requests on one instance: %v, want both 200", codes)
	}
	st := s.srv.Plugin("slow").Stats()
	if st.Timeouts != 1 || st.Waits < 1 || st.MaxLive != 1 {
		t.Errorf("stats %+v: want 1 timeout, at least 1 wait, never more than 1 live instance", st)
	}
}

func TestLoadErrorsNamePluginAndPath(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "notwasm.wasm")
	os.WriteFile(notWasm, []byte("#!/bin/sh\necho hi\n"), 0o644)
	truncated := filepath.Join(dir, "truncated.wasm")
	full, _ := os.ReadFile(testutil.Plugin(t, "plugins/examples/hello"))
	os.WriteFile(truncated, full[:len(full)/2], 0o644)
	cases := []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "nope.wasm"), "no such file"},
		{"notwasm", notWasm, "not a WebAssembly module"},
		{"truncated", truncated, "compile"},
		{"noexports", testutil.Plugin(t, "plugins/testplugins/noexports"), "does not export wasmhost_handle or wasmhost_abi_version"},
		{"wrongabi", testutil.Plugin(t, "plugins/testplugins/wrongabi"), fmt.Sprintf("speaks wasmhost ABI 2.0, but this host speaks %d.%d", abi.VersionMajor, abi.VersionMinor)},
	}
	l, err := loader.New(loader.Options{CacheDir: testutil.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		_, err := l.Load(context.Background(), loader.Config{Name: c.name, Path: c.path, Instances: 1})
		if err == nil {
			t.Errorf("%s: loaded without error", c.name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, fmt.Sprintf("plugin %q", c.name)) || !strings.Contains(msg, c.path) ||
			!strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q; want one line naming the plugin, %s, and %q", c.name, msg, c.path, c.want)
		}
	}
}

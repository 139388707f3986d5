package host_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader"
)

// nullWriter is the cheapest http.ResponseWriter, so the benchmarks measure
// the dispatch path and the guest, not a recorder.
type nullWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) WriteHeader(status int)      { w.status = status }
func (w *nullWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *nullWriter) Flush()                      {}

// SetWriteDeadline is there as on net/http's writer: without it the
// ResponseController's call would cost an error value per request, which
// a server does not pay.
func (w *nullWriter) SetWriteDeadline(time.Time) error { return nil }

func (w *nullWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// BenchmarkDispatchHello is one request to the hello plugin through the
// server's handler: routing, environ, pool, guest call, response; on each
// engine, with the net/http hello and the bare-gateway one.
func BenchmarkDispatchHello(b *testing.B) {
	for _, engine := range loader.Engines() {
		for _, plugin := range []string{"hello", "hellogw"} {
			b.Run(engine+"/"+plugin, func(b *testing.B) {
				s := startSiteOpts(b, `plugin "p" { path = "{{`+plugin+`}}" }`,
					siteOptions{level: hclog.Warn, cacheDir: testutil.CacheDir(b), engine: engine})
				benchmarkHandler(b, s.srv, "/")
			})
		}
	}
}

// BenchmarkDispatchEnviron builds and decodes a full environ in the guest.
func BenchmarkDispatchEnviron(b *testing.B) {
	s := startSiteLogging(b, `plugin "environ" { path = "{{environ}}" }`, hclog.Warn)
	benchmarkHandler(b, s.srv, "/a/b?x=1")
}

// BenchmarkNativeHello is the same response from a native handler through
// the same harness: the floor the dispatch path is measured against.
func BenchmarkNativeHello(b *testing.B) {
	benchmarkHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello, world\n"))
	}), "/")
}

func benchmarkHandler(b *testing.B, h http.Handler, target string) {
	req := host.AsAccepted(httptest.NewRequest("GET", target, nil))
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "*/*")
	w := &nullWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.status != 0 && w.status != 200 {
		b.Fatalf("status %d", w.status)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.reset()
		h.ServeHTTP(w, req)
	}
}

// BenchmarkInterruption measures what wazero's interruption support
// (WithCloseOnContextDone: a check at every loop header, and a watcher
// goroutine per call) costs, on the hello handler and on CPU-bound guest
// work (64 rounds of SHA-256 over 4 KiB). Without it a looping guest
// cannot be stopped, so "off" is never used in a server: this is the price
// of the timeout, measured.
func BenchmarkInterruption(b *testing.B) {
	for _, c := range []struct{ name, plugin, target string }{
		{"hello", "hello", "/"},
		{"cpu", "cpu", "/?n=64"},
	} {
		for _, off := range []bool{false, true} {
			mode := "on"
			if off {
				mode = "off"
			}
			b.Run(c.name+"/"+mode, func(b *testing.B) {
				s := startSiteOptions(b, `plugin "p" { path = "{{`+c.plugin+`}}" }`, hclog.Warn, off)
				benchmarkHandler(b, s.srv, c.target)
			})
		}
	}
}

// BenchmarkSwapLatency measures a hot swap from the file write to the
// first response of the new version, for a small plugin (the version test
// plugin, ~2 MB) and a large, stdlib-heavy one (~7 MB), both when the new
// version's machine code is not cached ("cold": a server with an empty
// compilation cache; the new version first serves interpreted) and when it
// is ("cached": swapping between two builds already compiled). Run it with
// a small -benchtime, e.g.
//
//	go test -run XXX -bench SwapLatency -benchtime 5x ./host/
func BenchmarkSwapLatency(b *testing.B) {
	for _, c := range []struct{ name, dir string }{
		{"small", "plugins/testplugins/version"},
		{"large", "plugins/testplugins/heavy"},
	} {
		v1 := testutil.PluginVariant(b, c.dir, "-X main.version=one")
		v2 := testutil.PluginVariant(b, c.dir, "-X main.version=two")
		b.Run(c.name+"/cold", func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				live := filepath.Join(b.TempDir(), "live.wasm")
				testutil.CopyFile(b, v1, live)
				s := startSiteCache(b, `plugin "v" { path = "`+live+`" }`, "")
				b.StartTimer()
				start := time.Now()
				testutil.CopyFile(b, v2, live)
				waitVersionB(b, s.base, "two")
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/swap")
		})
		b.Run(c.name+"/cached", func(b *testing.B) {
			live := filepath.Join(b.TempDir(), "live.wasm")
			testutil.CopyFile(b, v1, live)
			s := startSiteCache(b, `plugin "v" { path = "`+live+`" }`, "")
			testutil.CopyFile(b, v2, live)
			waitVersionB(b, s.base, "two")
			// Served interpreted at first; wait for its compiled version.
			for deadline := time.Now().Add(60 * time.Second); s.srv.Plugin("v").Interpreted; {
				if time.Now().After(deadline) {
					b.Fatal("the new version was not compiled within 60s")
				}
				time.Sleep(10 * time.Millisecond)
			}
			var total time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				src, want := v1, "one"
				if i%2 == 1 {
					src, want = v2, "two"
				}
				start := time.Now()
				testutil.CopyFile(b, src, live)
				waitVersionB(b, s.base, want)
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/swap")
		})
	}
}

func waitVersionB(b *testing.B, base, want string) {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if v, ok := strings.CutPrefix(string(body), "version "+want); ok && v != "" && (v[0] == ' ' || v[0] == '\n') {
				return
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatalf("version %s not served within 30s", want)
}

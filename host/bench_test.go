package host_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/go-hclog"
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

func (w *nullWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// BenchmarkDispatchHello is one request to the hello plugin through the
// server's handler: routing, environ, pool, guest call, response.
func BenchmarkDispatchHello(b *testing.B) {
	s := startSiteLogging(b, `plugin "hello" { path = "{{hello}}" }`, hclog.Warn)
	benchmarkHandler(b, s.srv, "/")
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
	req := httptest.NewRequest("GET", target, nil)
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

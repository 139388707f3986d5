package sdk

import (
	"net/http"
	"testing"
)

// BenchmarkServeParts splits BenchmarkServeHello into its pieces, to be run
// inside WebAssembly (bench/guestbench), where each costs several times
// its native figure: reading the environ into a request, and writing the
// response of a hello.
func BenchmarkServeParts(b *testing.B) {
	q := &quietHost{environ: encodeEnviron(append(baseEnviron, "HTTP_USER_AGENT", "bench", "wasmhost.plugin", "hello")...)}
	b.Run("request", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			st := takeState()
			st.newRequest(q, int32(len(q.environ)), 0)
			st.release()
		}
	})
	b.Run("response", func(b *testing.B) {
		greeting := []byte("Hello, world\n")
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			w := responseWriter{host: q, out: outBuf[:0], hdr: hdrBuf[:0], contentLength: -1}
			w.Write(greeting)
			w.finish()
			outBuf, hdrBuf = w.out[:0], w.hdr[:0]
		}
	})
	b.Run("handler", func(b *testing.B) {
		old := registered
		defer func() { registered = old }()
		greeting := []byte("Hello, world\n")
		registered = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(greeting) })
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			serve(q, int32(len(q.environ)), 0)
		}
	})
}

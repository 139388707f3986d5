package front

import (
	"io"
	"net/http"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/static"
)

// staticLabel is the plugin label of requests the static handler serves,
// in metrics and the access log; plugin names cannot contain parentheses.
const staticLabel = "(static)"

// serveStatic serves a request for a static file, before plugin routing:
// a plugin mounted at "/" must not shadow /static/ or /robots.txt.
func (f *Front) serveStatic(h *static.Handler, w http.ResponseWriter, r *http.Request, c *gateway.Client, start time.Time) {
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		// Logged even when the handler aborts the response (a file that
		// shrank while it was being sent), which it does by panicking.
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		f.logAccess(r, c, rec.status, rec.bytes, start, staticLabel)
	}()
	h.ServeHTTP(rec, r)
}

// statusRecorder notes the status and size of a response for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps sendfile for static files (io.Copy from an *os.File).
func (r *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines) through the recorder.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

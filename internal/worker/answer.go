package worker

import (
	"bytes"
	"fmt"
	"net/http"
)

// get runs GET path on h in this process and returns the body: the
// document the admin listener of a single process would serve, which the
// master merges with the other workers'.
func get(h http.Handler, path string) ([]byte, error) {
	r, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	h.ServeHTTP(rec, r)
	if rec.code != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d", path, rec.code)
	}
	return rec.body.Bytes(), nil
}

// recorder is the http.ResponseWriter of get.
type recorder struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.body.Write(p)
}

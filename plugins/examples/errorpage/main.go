// Command errorpage is paste's ErrorMiddleware as a wasmhost middleware:
// when the plugins behind it answer with a server error (5xx), the client
// gets this middleware's page instead of their text, which may hold
// internals. Other answers stream through untouched.
package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/wasmhost/wasmhost/sdk"
)

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>Something went wrong</title></head>
<body><h1>Something went wrong</h1>
<p>The error has been logged (status %s). Please try again later.</p></body></html>
`

func init() {
	sdk.HandleMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(&errorWriter{ResponseWriter: w}, r)
		})
	})
}

// errorWriter replaces the body of a 5xx answer; everything else goes on
// as it comes, flushes included.
type errorWriter struct {
	http.ResponseWriter
	swallow bool
}

func (e *errorWriter) WriteHeader(code int) {
	if code >= 500 {
		e.swallow = true
		h := e.Header()
		h.Del("Content-Length")
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("X-Error-Page", "errorpage")
		e.ResponseWriter.WriteHeader(code)
		io.WriteString(e.ResponseWriter, strings.Replace(page, "%s", strconv.Itoa(code), 1))
		return
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *errorWriter) Write(p []byte) (int, error) {
	if e.swallow {
		return len(p), nil // the downstream's text never reaches the client
	}
	return e.ResponseWriter.Write(p)
}

func (e *errorWriter) Flush() {
	if f, ok := e.ResponseWriter.(http.Flusher); ok && !e.swallow {
		f.Flush()
	}
}

func main() {}

// Command echo streams the request body back as the response body, in
// constant memory however large the body is.
package main

import (
	"errors"
	"io"
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

// buf is reused by every request: an instance serves one request at a time,
// and a fixed buffer keeps a large upload from growing linear memory (which
// never shrinks).
var buf = make([]byte, 32<<10)

func init() {
	sdk.Handle(http.HandlerFunc(echo))
}

func echo(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	// The body is the client's own bytes: never let a browser reinterpret them.
	w.Header().Set("X-Content-Type-Options", "nosniff")

	// The response writer implements neither io.ReaderFrom nor does the body
	// implement io.WriterTo, so CopyBuffer really goes through buf.
	n, err := io.CopyBuffer(w, r.Body, buf)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) && n == 0 {
		// Nothing sent yet, so the status can still say what went wrong.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "request body too large\n")
	}
	// Other errors (the client went away, a truncated body) leave a
	// truncated response: the status line is already out.
}

func main() {}

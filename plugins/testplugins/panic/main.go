// Command panic fails on request, to test that a failing guest costs one
// request and nothing else.
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("panic") != "" {
			panic("deliberate panic: " + q.Get("panic"))
		}
		if q.Get("after") != "" {
			w.Write([]byte("first chunk\n"))
			w.(http.Flusher).Flush()
			panic("deliberate panic after the status was sent")
		}
		w.Write([]byte("ok\n"))
	}))
}

func main() {}

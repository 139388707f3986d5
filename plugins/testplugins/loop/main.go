// Command loop never returns from its handler: the host must stop it.
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

var spins uint64

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after") != "" {
			w.Write([]byte("looping now\n"))
			w.(http.Flusher).Flush()
		}
		for {
			spins++
		}
	}))
}

func main() {}

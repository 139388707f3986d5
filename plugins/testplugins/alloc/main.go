// Command alloc allocates without end: its memory_limit must stop it.
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

var hoard [][]byte

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("bomb") == "" {
			w.Write([]byte("fine\n"))
			return
		}
		for {
			b := make([]byte, 1<<20)
			// Touch every page, so the memory is really used. One write a
			// page, not a byte: a loop of a million iterations per MiB would
			// make the bomb slow to go off under interruption checks.
			for i := 0; i < len(b); i += 4096 {
				b[i] = byte(i)
			}
			hoard = append(hoard, b)
		}
	}))
}

func main() {}

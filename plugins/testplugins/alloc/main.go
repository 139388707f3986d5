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
			for i := range b { // touch it, so it is really used
				b[i] = byte(i)
			}
			hoard = append(hoard, b)
		}
	}))
}

func main() {}

// Command hello is the smallest wasmhost plugin: it answers every request
// with "Hello, world".
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello, world\n"))
	}))
}

func main() {}

// Command nohandler links the SDK but forgets to register a handler.
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

// hello is never passed to sdk.Handle.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte(sdk.StaticURL("x")))
})

func init() { _ = hello }

func main() {}

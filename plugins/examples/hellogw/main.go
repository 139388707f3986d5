// Command hellogw is hello written against the bare gateway: no net/http in
// the guest, just the environ, start_response and the body as they cross
// the ABI. It answers "Hello, world" like hello, in three host calls and
// without building an *http.Request.
package main

import "github.com/wasmhost/wasmhost/sdk"

// greeting is allocated once: a []byte("...") conversion in the handler
// would allocate on every request, since the bytes go to the host.
var greeting = []byte("Hello, world\n")

func init() {
	sdk.HandleGateway(func(g *sdk.Gateway) {
		g.StartResponse(200, "Content-Type", "text/plain; charset=utf-8")
		g.Write(greeting)
	})
}

func main() {}

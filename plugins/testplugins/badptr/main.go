//go:build wasip1

// Command badptr calls the host functions with pointers and lengths outside
// its memory, bypassing the SDK: each call must trap this instance only.
// ?case= write, read, environ, header, headerlen, log, static; anything
// else answers "ok" through the SDK.
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

//go:wasmimport wasmhost body_write
func bodyWrite(ptr, n int32) int32

//go:wasmimport wasmhost body_read
func bodyRead(ptr, n int32) int32

//go:wasmimport wasmhost environ_get
func environGet(ptr, n int32) int32

//go:wasmimport wasmhost start_response
func startResponse(status, ptr, n int32) int32

//go:wasmimport wasmhost log
func logMsg(level, ptr, n int32)

//go:wasmimport wasmhost static_url
func staticURL(path, pathLen, buf, bufLen int32) int32

const far = 0x7ffffff0 // beyond any memory this guest has

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "write":
			startResponse(200, 0, 0)
			bodyWrite(far, 1024)
		case "read":
			bodyRead(far, 1024)
		case "environ":
			environGet(far, 1<<20)
		case "header":
			startResponse(200, far, 64)
		case "headerlen":
			startResponse(200, 0, 0x7fffffff)
		case "log":
			logMsg(2, 16, -1) // a negative i32 is a length of 4 GiB
		case "static":
			staticURL(0, 8, far, 64)
		default:
			w.Write([]byte("ok\n"))
			return
		}
		w.Write([]byte("the host did not trap\n"))
	}))
}

func main() {}

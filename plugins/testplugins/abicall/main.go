//go:build wasip1

// Command abicall lets a host-side fuzz test call any wasmhost host
// function with raw arguments: the export abicall(fn, a, b, c, d) calls
// host function number fn. It is also a normal plugin (answers "ok"), so
// the loader accepts it.
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

//go:wasmimport wasmhost environ_get
func environGet(a, b int32) int32

//go:wasmimport wasmhost body_read
func bodyRead(a, b int32) int32

//go:wasmimport wasmhost start_response
func startResponse(a, b, c int32) int32

//go:wasmimport wasmhost body_write
func bodyWrite(a, b int32) int32

//go:wasmimport wasmhost body_flush
func bodyFlush() int32

//go:wasmimport wasmhost log
func logMsg(a, b, c int32)

//go:wasmimport wasmhost static_url
func staticURL(a, b, c, d int32) int32

//go:wasmexport abicall
func abicall(fn, a, b, c, d int32) int32 {
	switch fn {
	case 0:
		return environGet(a, b)
	case 1:
		return bodyRead(a, b)
	case 2:
		return startResponse(a, b, c)
	case 3:
		return bodyWrite(a, b)
	case 4:
		return bodyFlush()
	case 5:
		logMsg(a, b, c)
		return 0
	case 6:
		return staticURL(a, b, c, d)
	}
	return -100
}

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	}))
}

func main() {}

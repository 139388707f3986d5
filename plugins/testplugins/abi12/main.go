//go:build wasip1

// Command abi12 is a plugin as the SDK of ABI 1.2 built it: it reports
// version 1.2 and imports only functions that 1.2 had, without the SDK (which
// speaks the newest ABI), so a test can check that a newer host keeps
// serving plugins built before its ABI grew.
package main

import "unsafe"

//go:wasmimport wasmhost start_response
func startResponse(status int32, headers unsafe.Pointer, headersLen int32) int32

//go:wasmimport wasmhost body_write
func bodyWrite(buf unsafe.Pointer, bufLen int32) int32

//go:wasmexport wasmhost_abi_version
func abiVersion() int32 { return 1<<16 | 2 }

//go:wasmexport wasmhost_handle
func handle(environSize, flags int32) int32 {
	// One header, Content-Type: text/plain, encoded as the ABI's pairs.
	h := pair(nil, "Content-Type", "text/plain")
	if startResponse(200, unsafe.Pointer(&h[0]), int32(len(h))) != 0 {
		return 1
	}
	body := []byte("served by an ABI 1.2 plugin\n")
	if bodyWrite(unsafe.Pointer(&body[0]), int32(len(body))) != 0 {
		return 1
	}
	return 0
}

func pair(b []byte, k, v string) []byte {
	for _, s := range []string{k, v} {
		n := len(s)
		b = append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
		b = append(b, s...)
	}
	return b
}

func main() {}

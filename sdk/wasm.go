//go:build wasip1

package sdk

import (
	"unsafe"

	"github.com/wasmhost/wasmhost/abi"
)

// The host functions of ABI 1.1 (see package abi for their contracts).
// Buffers go across as pointer and length; unsafe.Pointer is what both
// standard Go and TinyGo accept in a wasmimport signature.

//go:wasmimport wasmhost environ_get
func hostEnvironGet(buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost body_read
func hostBodyRead(buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost start_response
func hostStartResponse(status int32, headers unsafe.Pointer, headersLen int32) int32

//go:wasmimport wasmhost body_write
func hostBodyWrite(buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost body_flush
func hostBodyFlush() int32

//go:wasmimport wasmhost log
func hostLog(level int32, msg unsafe.Pointer, msgLen int32)

//go:wasmimport wasmhost static_url
func hostStaticURL(path unsafe.Pointer, pathLen int32, buf unsafe.Pointer, bufLen int32) int32

// staticURL asks the host for a versioned URL; ok is false outside a
// request, where the host has no site to ask.
func staticURL(path string) (string, bool) {
	if len(path) > abi.MaxStaticPathBytes {
		return "", false
	}
	p := unsafe.Pointer(unsafe.StringData(path))
	var small [256]byte
	buf := small[:]
	for {
		n := hostStaticURL(p, int32(len(path)), ptr(buf), int32(len(buf)))
		if n < 0 {
			return "", false
		}
		if int(n) <= len(buf) {
			return string(buf[:n]), true
		}
		buf = make([]byte, n)
	}
}

// wasmHost is empty, so storing it in a host interface allocates nothing.
type wasmHost struct{}

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

// strPtr is the address of a string's bytes, for host calls that only read them.
func strPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

func (wasmHost) environGet(buf []byte) int32 { return hostEnvironGet(ptr(buf), int32(len(buf))) }
func (wasmHost) bodyRead(buf []byte) int32   { return hostBodyRead(ptr(buf), int32(len(buf))) }
func (wasmHost) bodyWrite(buf []byte) int32  { return hostBodyWrite(ptr(buf), int32(len(buf))) }
func (wasmHost) bodyFlush() int32            { return hostBodyFlush() }

func (wasmHost) startResponse(status int32, headers []byte) int32 {
	return hostStartResponse(status, ptr(headers), int32(len(headers)))
}

func (wasmHost) log(level int32, msg string) {
	if len(msg) > abi.MaxLogBytes {
		msg = msg[:abi.MaxLogBytes]
	}
	hostLog(level, unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}

func logMessage(level int32, msg string) { wasmHost{}.log(level, msg) }

//go:wasmexport wasmhost_abi_version
func wasmhostABIVersion() int32 { return int32(abi.Version) }

//go:wasmexport wasmhost_handle
func wasmhostHandle(environSize, flags int32) int32 {
	return serve(wasmHost{}, environSize, flags)
}

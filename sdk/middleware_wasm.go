//go:build wasip1

package sdk

import (
	"unsafe"

	"github.com/wasmhost/wasmhost/abi"
)

// The host functions of ABI 1.2 (see package abi for their contracts).

//go:wasmimport wasmhost next_start
func hostNextStart(req unsafe.Pointer, reqLen int32, flags int32) int32

//go:wasmimport wasmhost next_wait
func hostNextWait(size unsafe.Pointer) int32

//go:wasmimport wasmhost next_read
func hostNextRead(buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost next_body
func hostNextBody(buf unsafe.Pointer, n int32) int32

//go:wasmimport wasmhost cookie_sign
func hostCookieSign(name unsafe.Pointer, nameLen int32, value unsafe.Pointer, valueLen int32, buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost cookie_verify
func hostCookieVerify(name unsafe.Pointer, nameLen int32, signed unsafe.Pointer, signedLen int32, buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost xsrf_token
func hostXSRFToken(buf unsafe.Pointer, bufLen int32) int32

//go:wasmexport wasmhost_kind
func wasmhostKind() int32 { return kind }

type wasmChain struct{}

func chainHostOf() (chainHost, bool) { return wasmChain{}, true }

func (wasmChain) nextStart(req []byte, flags int32) int32 {
	return hostNextStart(ptr(req), int32(len(req)), flags)
}

func (wasmChain) nextWait(size *uint32) int32 { return hostNextWait(unsafe.Pointer(size)) }

func (wasmChain) nextRead(buf []byte) int32 { return hostNextRead(ptr(buf), int32(len(buf))) }

func (wasmChain) nextBody(buf []byte, errno int32) int32 {
	if errno < 0 {
		return hostNextBody(nil, errno)
	}
	return hostNextBody(ptr(buf), int32(len(buf)))
}

// hostString calls a host function with the environ_get convention (copy
// if it fits, return the size) until the buffer is big enough.
func hostString(call func(buf []byte) int32) (string, int32) {
	var small [256]byte
	buf := small[:]
	for {
		n := call(buf)
		if n < 0 {
			return "", n
		}
		if int(n) <= len(buf) {
			return string(buf[:n]), 0
		}
		buf = make([]byte, n)
	}
}

func signCookie(name, value string) (string, int32) {
	if len(name) > abi.MaxCookieBytes || len(value) > abi.MaxCookieBytes {
		return "", abi.ErrInvalid
	}
	return hostString(func(buf []byte) int32 {
		return hostCookieSign(strPtr(name), int32(len(name)), strPtr(value), int32(len(value)), ptr(buf), int32(len(buf)))
	})
}

func verifyCookie(name, signed string) (string, int32) {
	if len(name) > abi.MaxCookieBytes || len(signed) > abi.MaxCookieBytes {
		return "", abi.ErrInvalid
	}
	return hostString(func(buf []byte) int32 {
		return hostCookieVerify(strPtr(name), int32(len(name)), strPtr(signed), int32(len(signed)), ptr(buf), int32(len(buf)))
	})
}

func xsrfToken() (string, int32) {
	return hostString(func(buf []byte) int32 { return hostXSRFToken(ptr(buf), int32(len(buf))) })
}

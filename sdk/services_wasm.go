//go:build wasip1

package sdk

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/wasmhost/wasmhost/abi"
)

// The services host functions of ABI 1.2 (see package abi).

//go:wasmimport wasmhost result_get
func hostResultGet(buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost kv_open
func hostKVOpen(name unsafe.Pointer, nameLen int32) int32

//go:wasmimport wasmhost kv_get
func hostKVGet(h int32, key unsafe.Pointer, keyLen int32, buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost kv_set
func hostKVSet(h int32, key unsafe.Pointer, keyLen int32, val unsafe.Pointer, valLen int32) int32

//go:wasmimport wasmhost kv_delete
func hostKVDelete(h int32, key unsafe.Pointer, keyLen int32) int32

//go:wasmimport wasmhost kv_exists
func hostKVExists(h int32, key unsafe.Pointer, keyLen int32) int32

//go:wasmimport wasmhost kv_keys
func hostKVKeys(h int32, prefix unsafe.Pointer, prefixLen int32, buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost kv_increment
func hostKVIncrement(h int32, key unsafe.Pointer, keyLen int32, delta int64, out unsafe.Pointer) int32

//go:wasmimport wasmhost kv_cas
func hostKVCAS(h int32, key unsafe.Pointer, keyLen int32, old unsafe.Pointer, oldLen int32, new unsafe.Pointer, newLen int32, flags int32) int32

//go:wasmimport wasmhost kv_get_many
func hostKVGetMany(h int32, keys unsafe.Pointer, keysLen int32, buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost http_request
func hostHTTPRequest(head unsafe.Pointer, headLen int32, flags int32) int32

//go:wasmimport wasmhost http_body_write
func hostHTTPBodyWrite(h int32, buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost http_body_close
func hostHTTPBodyClose(h int32) int32

//go:wasmimport wasmhost http_response
func hostHTTPResponse(h int32, buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost http_body_read
func hostHTTPBodyRead(h int32, buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport wasmhost http_close
func hostHTTPClose(h int32) int32

// held fetches the result the host holds after a call returned a size
// larger than its buffer (or an error).
func held() []byte {
	n := hostResultGet(nil, 0)
	if n <= 0 {
		return nil
	}
	buf := make([]byte, n)
	hostResultGet(ptr(buf), n)
	return buf
}

// sized returns the result of a call that copied it into buf if it fit.
func sized(buf []byte, n int32) []byte {
	if int(n) <= len(buf) {
		return buf[:n]
	}
	return held()
}

// serviceError is the error of a failed services call, with the host's
// message; ErrNotFound for a missing key.
func serviceError(code int32) error {
	msg := string(held())
	if msg == "" {
		msg = "wasmhost: " + abi.ErrnoString(code)
	}
	switch code {
	case abi.ErrNotFound:
		return fmt.Errorf("%w (%s)", ErrNotFound, msg)
	case abi.ErrTimeout:
		return fmt.Errorf("%w (%s)", ErrTimeout, msg)
	}
	return errors.New(msg)
}

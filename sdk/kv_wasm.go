//go:build wasip1

package sdk

import (
	"encoding/binary"
	"unsafe"

	"github.com/wasmhost/wasmhost/abi"
)

// hostKV is a store handle from kv_open.
type hostKV int32

func openKV(name string) (kvBackend, error) {
	if len(name) > abi.MaxKVKeyBytes {
		name = name[:abi.MaxKVKeyBytes]
	}
	h := hostKVOpen(strPtr(name), int32(len(name)))
	if h < 0 {
		return nil, serviceError(h)
	}
	return hostKV(h), nil
}

func (h hostKV) get(key string) ([]byte, error) {
	buf := make([]byte, 256)
	n := hostKVGet(int32(h), strPtr(key), int32(len(key)), ptr(buf), int32(len(buf)))
	if n < 0 {
		return nil, serviceError(n)
	}
	return sized(buf, n), nil
}

func (h hostKV) getMany(keys []string) (map[string][]byte, error) {
	var list []byte
	for _, k := range keys {
		list = abi.AppendString(list, k)
	}
	buf := make([]byte, 4096)
	n := hostKVGetMany(int32(h), ptr(list), int32(len(list)), ptr(buf), int32(len(buf)))
	if n < 0 {
		return nil, serviceError(n)
	}
	enc := sized(buf, n)
	found := make(map[string][]byte, len(keys))
	for len(enc) > 0 {
		k, v, rest, ok := abi.NextPair(enc)
		if !ok {
			break
		}
		// enc is this call's own buffer: the values may share it.
		found[string(k)] = v[:len(v):len(v)]
		enc = rest
	}
	return found, nil
}

func (h hostKV) set(key string, value []byte) error {
	if r := hostKVSet(int32(h), strPtr(key), int32(len(key)), ptr(value), int32(len(value))); r < 0 {
		return serviceError(r)
	}
	return nil
}

func (h hostKV) del(key string) error {
	if r := hostKVDelete(int32(h), strPtr(key), int32(len(key))); r < 0 {
		return serviceError(r)
	}
	return nil
}

func (h hostKV) exists(key string) (bool, error) {
	r := hostKVExists(int32(h), strPtr(key), int32(len(key)))
	if r < 0 {
		return false, serviceError(r)
	}
	return r == 1, nil
}

func (h hostKV) keys(prefix string) ([]string, error) {
	buf := make([]byte, 4096)
	n := hostKVKeys(int32(h), strPtr(prefix), int32(len(prefix)), ptr(buf), int32(len(buf)))
	if n < 0 {
		return nil, serviceError(n)
	}
	enc := sized(buf, n)
	keys := []string{}
	for len(enc) > 0 {
		k, rest, ok := abi.NextString(enc)
		if !ok {
			break
		}
		keys = append(keys, string(k))
		enc = rest
	}
	return keys, nil
}

func (h hostKV) increment(key string, delta int64) (int64, error) {
	var out [8]byte
	if r := hostKVIncrement(int32(h), strPtr(key), int32(len(key)), delta, unsafe.Pointer(&out[0])); r < 0 {
		return 0, serviceError(r)
	}
	return int64(binary.LittleEndian.Uint64(out[:])), nil
}

func (h hostKV) cas(key string, old, new []byte) (bool, error) {
	var flags int32
	if old == nil {
		flags = abi.KVOldAbsent
	}
	r := hostKVCAS(int32(h), strPtr(key), int32(len(key)), ptr(old), int32(len(old)), ptr(new), int32(len(new)), flags)
	if r < 0 {
		return false, serviceError(r)
	}
	return r == 1, nil
}

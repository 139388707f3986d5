package loader

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/kv"
)

// The key-value host functions (abi/services.go). Each works on a store
// handle from kv_open and runs under the context of the guest call, so a
// store that hangs ends with the request. Key and value sizes over the
// ABI's limits trap: the SDK checks them first and returns an error, so
// only a guest bypassing it gets there.

func init() {
	hostFunctions = append(hostFunctions,
		hostFunction{abi.ImportKVOpen, kvOpen, []valueType{i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportKVGet, blocking(kvGet), []valueType{i32, i32, i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportKVSet, blocking(kvSet), []valueType{i32, i32, i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportKVDelete, blocking(kvDelete), []valueType{i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportKVExists, blocking(kvExists), []valueType{i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportKVKeys, blocking(kvKeys), []valueType{i32, i32, i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportKVIncrement, blocking(kvIncrement), []valueType{i32, i32, i32, i64, i32}, []valueType{i32}},
		hostFunction{abi.ImportKVCompareAndSwap, blocking(kvCompareAndSwap), []valueType{i32, i32, i32, i32, i32, i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportKVGetMany, blocking(kvGetMany), []valueType{i32, i32, i32, i32, i32}, []valueType{i32}},
	)
}

func kvOpen(ctx context.Context, mem guestMemory, stack []uint64) {
	name := string(limitedBytes(mem, abi.ImportKVOpen, argU32(stack, 0), argU32(stack, 1), abi.MaxKVKeyBytes))
	inst := instanceOf(ctx)
	if inst == nil {
		setResult(stack, abi.ErrState)
		return
	}
	svc := inst.plugin.cfg.Services
	if svc == nil {
		inst.fail(stack, abi.ErrDenied, "key-value store %q is not granted to plugin %q", name, inst.plugin.Name)
		return
	}
	for i, s := range inst.svc.stores {
		if s.name == name {
			setResult(stack, int32(i+1))
			return
		}
	}
	st, err := svc.Store(name)
	if err != nil {
		inst.fail(stack, abi.ErrDenied, "%s", err)
		return
	}
	inst.svc.stores = append(inst.svc.stores, namedStore{name, st})
	setResult(stack, int32(len(inst.svc.stores)))
}

// kvCall finds the instance and the store of a call, and the key; ok is
// false when the result is already set.
func kvCall(ctx context.Context, mem guestMemory, fn string, stack []uint64) (inst *instance, st namedStore, key string, ok bool) {
	key = string(limitedBytes(mem, fn, argU32(stack, 1), argU32(stack, 2), abi.MaxKVKeyBytes))
	if inst, st, ok = kvHandle(ctx, fn, stack); !ok {
		return nil, st, "", false
	}
	if fn != abi.ImportKVKeys {
		if err := kv.CheckKey(key); err != nil {
			inst.fail(stack, abi.ErrInvalid, "kv %q: %s", st.name, err)
			return nil, st, "", false
		}
	}
	return inst, st, key, true
}

// kvHandle finds the instance and the store of a call's first argument.
func kvHandle(ctx context.Context, fn string, stack []uint64) (inst *instance, st namedStore, ok bool) {
	inst = instanceOf(ctx)
	if inst == nil {
		setResult(stack, abi.ErrState)
		return nil, st, false
	}
	h := argI32(stack, 0)
	if h < 1 || int(h) > len(inst.svc.stores) {
		inst.fail(stack, abi.ErrHandle, "%s: %d is not a store handle", fn, h)
		return nil, st, false
	}
	inst.svc.held = nil
	return inst, inst.svc.stores[h-1], true
}

// kvError sets the result of a failed store call.
func (inst *instance) kvError(stack []uint64, st namedStore, err error) {
	code, coded := errnoOf(err)
	switch {
	case coded:
		inst.fail(stack, code, "kv %q: %s", st.name, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		inst.fail(stack, abi.ErrClosed, "kv %q: the request ended", st.name)
	default:
		inst.fail(stack, abi.ErrService, "kv %q: %s", st.name, err)
	}
}

func kvGet(ctx context.Context, mem guestMemory, stack []uint64) {
	inst, st, key, ok := kvCall(ctx, mem, abi.ImportKVGet, stack)
	if !ok {
		return
	}
	v, err := st.Get(ctx, key)
	if err != nil {
		inst.kvError(stack, st, err)
		return
	}
	inst.deliver(mem, abi.ImportKVGet, stack, argU32(stack, 3), argU32(stack, 4), v)
}

func kvSet(ctx context.Context, mem guestMemory, stack []uint64) {
	val := limitedBytes(mem, abi.ImportKVSet, argU32(stack, 3), argU32(stack, 4), abi.MaxKVValueBytes)
	inst, st, key, ok := kvCall(ctx, mem, abi.ImportKVSet, stack)
	if !ok {
		return
	}
	// val aliases guest memory, which a store must not keep: copy it.
	if err := st.Set(ctx, key, append([]byte{}, val...)); err != nil {
		inst.kvError(stack, st, err)
		return
	}
	setResult(stack, 0)
}

func kvDelete(ctx context.Context, mem guestMemory, stack []uint64) {
	inst, st, key, ok := kvCall(ctx, mem, abi.ImportKVDelete, stack)
	if !ok {
		return
	}
	if err := st.Delete(ctx, key); err != nil {
		inst.kvError(stack, st, err)
		return
	}
	setResult(stack, 0)
}

func kvExists(ctx context.Context, mem guestMemory, stack []uint64) {
	inst, st, key, ok := kvCall(ctx, mem, abi.ImportKVExists, stack)
	if !ok {
		return
	}
	present, err := st.Exists(ctx, key)
	if err != nil {
		inst.kvError(stack, st, err)
		return
	}
	setResult(stack, 0)
	if present {
		setResult(stack, 1)
	}
}

func kvKeys(ctx context.Context, mem guestMemory, stack []uint64) {
	inst, st, prefix, ok := kvCall(ctx, mem, abi.ImportKVKeys, stack)
	if !ok {
		return
	}
	keys, err := st.Keys(ctx, prefix)
	if err != nil {
		inst.kvError(stack, st, err)
		return
	}
	var enc []byte
	for _, k := range keys {
		enc = abi.AppendString(enc, k)
	}
	inst.deliver(mem, abi.ImportKVKeys, stack, argU32(stack, 3), argU32(stack, 4), enc)
}

func kvIncrement(ctx context.Context, mem guestMemory, stack []uint64) {
	delta := int64(stack[3])
	out := guestBytes(mem, abi.ImportKVIncrement, argU32(stack, 4), 8)
	inst, st, key, ok := kvCall(ctx, mem, abi.ImportKVIncrement, stack)
	if !ok {
		return
	}
	n, err := st.Increment(ctx, key, delta)
	if err != nil {
		inst.kvError(stack, st, err)
		return
	}
	binary.LittleEndian.PutUint64(out, uint64(n))
	setResult(stack, 0)
}

func kvCompareAndSwap(ctx context.Context, mem guestMemory, stack []uint64) {
	flags := argU32(stack, 7)
	var old []byte
	if flags&abi.KVOldAbsent == 0 {
		old = append([]byte{}, limitedBytes(mem, abi.ImportKVCompareAndSwap, argU32(stack, 3), argU32(stack, 4), abi.MaxKVValueBytes)...)
	}
	val := append([]byte{}, limitedBytes(mem, abi.ImportKVCompareAndSwap, argU32(stack, 5), argU32(stack, 6), abi.MaxKVValueBytes)...)
	inst, st, key, ok := kvCall(ctx, mem, abi.ImportKVCompareAndSwap, stack)
	if !ok {
		return
	}
	swapped, err := st.CompareAndSwap(ctx, key, old, val)
	if err != nil {
		inst.kvError(stack, st, err)
		return
	}
	setResult(stack, 0)
	if swapped {
		setResult(stack, 1)
	}
}

// maxGetManyList bounds the encoded key list of one kv_get_many.
const maxGetManyList = abi.MaxKVGetManyKeys * (4 + abi.MaxKVKeyBytes)

func kvGetMany(ctx context.Context, mem guestMemory, stack []uint64) {
	list := limitedBytes(mem, abi.ImportKVGetMany, argU32(stack, 1), argU32(stack, 2), maxGetManyList)
	inst, st, ok := kvHandle(ctx, abi.ImportKVGetMany, stack)
	if !ok {
		return
	}
	keys, err := decodeKeyList(list)
	if err != nil {
		inst.fail(stack, abi.ErrInvalid, "kv %q: %s: %s", st.name, abi.ImportKVGetMany, err)
		return
	}
	found, err := st.GetMany(ctx, keys)
	if err != nil {
		inst.kvError(stack, st, err)
		return
	}
	var enc []byte
	for _, k := range keys {
		if v, ok := found[k]; ok {
			enc = abi.AppendPair(enc, k, string(v))
		}
	}
	inst.deliver(mem, abi.ImportKVGetMany, stack, argU32(stack, 3), argU32(stack, 4), enc)
}

// decodeKeyList decodes kv_get_many's keys, each checked, and drops
// repeats (the result names each key once).
func decodeKeyList(list []byte) ([]string, error) {
	var keys []string
	seen := map[string]bool{}
	for len(list) > 0 {
		k, rest, ok := abi.NextString(list)
		if !ok {
			return nil, errors.New("malformed key list")
		}
		list = rest
		if len(keys) == abi.MaxKVGetManyKeys {
			return nil, fmt.Errorf("more than %d keys", abi.MaxKVGetManyKeys)
		}
		key := string(k)
		if err := kv.CheckKey(key); err != nil {
			return nil, fmt.Errorf("key %d: %s", len(keys)+1, err)
		}
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	return keys, nil
}

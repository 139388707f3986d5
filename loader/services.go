package loader

import (
	"context"
	"fmt"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/kv"
	"github.com/wasmhost/wasmhost/internal/outbound"
)

// Services are what a plugin reaches beyond the request it serves: the
// key-value stores granted to it, and outbound HTTP within its
// allowed_hosts. The host implements them per plugin (Config.Services); a
// plugin without them is refused every services call.
type Services interface {
	// Store returns the store named name, or an error saying why the
	// plugin may not use it (not declared, not granted).
	Store(name string) (kv.Store, error)
	// Outbound returns the plugin's outbound HTTP client; nil refuses
	// every request.
	Outbound() *outbound.Client
}

// serviceState is an instance's side of the services calls: the handles
// it was given and the result held for result_get. Only the goroutine
// running the instance's guest call touches it.
type serviceState struct {
	held     []byte
	stores   []namedStore
	requests map[int32]*outboundRequest
	nextReq  int32
}

type namedStore struct {
	name string
	kv.Store
}

// fail sets an errno result and holds a message explaining it.
func (inst *instance) fail(stack []uint64, errno int32, format string, args ...any) {
	inst.svc.held = []byte(fmt.Sprintf(format, args...))
	setResult(stack, errno)
}

// deliver copies a result into the guest's buffer when it fits and holds
// it for result_get when not; the size is the call's result either way.
func (inst *instance) deliver(mem guestMemory, fn string, stack []uint64, buf, bufLen uint32, data []byte) {
	inst.svc.held = nil
	if uint64(len(data)) <= uint64(bufLen) {
		copy(guestBytes(mem, fn, buf, uint32(len(data))), data)
	} else {
		inst.svc.held = data
	}
	setResult(stack, int32(len(data)))
}

func resultGet(ctx context.Context, mem guestMemory, stack []uint64) {
	inst := instanceOf(ctx)
	if inst == nil {
		setResult(stack, abi.ErrState)
		return
	}
	held := inst.svc.held
	buf, bufLen := argU32(stack, 0), argU32(stack, 1)
	if uint64(len(held)) <= uint64(bufLen) {
		copy(guestBytes(mem, abi.ImportResultGet, buf, uint32(len(held))), held)
		inst.svc.held = nil
	}
	setResult(stack, int32(len(held)))
}

func init() {
	hostFunctions = append(hostFunctions,
		hostFunction{abi.ImportResultGet, resultGet, []valueType{i32, i32}, []valueType{i32}},
	)
}

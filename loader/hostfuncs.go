package loader

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmhost/wasmhost/abi"
)

// callContext is the context a request's guest call runs under. The host
// functions find the calling instance through it; a context value is the one
// channel wazero passes from the caller of an export to the host functions
// that export calls.
type callContext struct {
	context.Context
	inst *instance
}

type instanceKey struct{}

func (c *callContext) Value(key any) any {
	if key == (instanceKey{}) {
		return c.inst
	}
	return c.Context.Value(key)
}

// trap is what a host function panics with when a guest breaks the ABI (a
// pointer outside its memory, an absurd length). wazero turns the panic into
// an error from the guest call, which discards the instance: the host itself
// is never at risk.
type trap struct{ msg string }

func (t *trap) Error() string { return "wasmhost ABI violation: " + t.msg }

func trapf(format string, args ...any) { panic(&trap{fmt.Sprintf(format, args...)}) }

// guestBytes returns the guest memory at [ptr, ptr+n), or traps.
func guestBytes(mod api.Module, fn string, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		trapf("%s: range [%d, %d+%d) is outside guest memory (%d bytes)", fn, ptr, ptr, n, mod.Memory().Size())
	}
	return b
}

// limitedBytes is guestBytes for an argument the ABI bounds: a length over
// max traps before the host touches anything, since it is the size of what
// the host would have to hold.
func limitedBytes(mod api.Module, fn string, ptr, n, max uint32) []byte {
	if n > max {
		trapf("%s: %d bytes, more than the limit of %d", fn, n, max)
	}
	return guestBytes(mod, fn, ptr, n)
}

// exchangeOf returns the exchange of the request the calling instance is
// serving, or nil when it is not serving one (a host call made during
// initialization, say).
func exchangeOf(ctx context.Context) Exchange {
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	if inst == nil {
		return nil
	}
	return inst.ex
}

func setResult(stack []uint64, v int32) { stack[0] = api.EncodeI32(v) }

// instantiateHostModule defines the ABI's host functions in rt. They use
// wazero's stack-based GoModuleFunc form, which calls without reflection or
// allocation: host crossings are the main per-request cost of a guest.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	i32 := api.ValueTypeI32
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	def := func(name string, fn api.GoModuleFunc, params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	def(abi.ImportEnvironGet, environGet, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def(abi.ImportBodyRead, bodyRead, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def(abi.ImportStartResponse, startResponse, []api.ValueType{i32, i32, i32}, []api.ValueType{i32})
	def(abi.ImportBodyWrite, bodyWrite, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def(abi.ImportBodyFlush, bodyFlush, nil, []api.ValueType{i32})
	def(abi.ImportLog, logMessage, []api.ValueType{i32, i32, i32}, nil)
	def(abi.ImportStaticURL, staticURL, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	_, err := b.Instantiate(ctx)
	return err
}

func environGet(ctx context.Context, mod api.Module, stack []uint64) {
	buf, bufLen := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	env := ex.Environ()
	if uint64(len(env)) <= uint64(bufLen) {
		copy(guestBytes(mod, abi.ImportEnvironGet, buf, uint32(len(env))), env)
	}
	setResult(stack, int32(len(env)))
}

func bodyRead(ctx context.Context, mod api.Module, stack []uint64) {
	buf, bufLen := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	if bufLen > 1<<30 { // keep n representable as a positive i32
		bufLen = 1 << 30
	}
	setResult(stack, ex.ReadBody(guestBytes(mod, abi.ImportBodyRead, buf, bufLen)))
}

func startResponse(ctx context.Context, mod api.Module, stack []uint64) {
	status := api.DecodeI32(stack[0])
	headers := limitedBytes(mod, abi.ImportStartResponse, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), abi.MaxHeaderBytes)
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	if !abi.ValidPairs(headers) {
		setResult(stack, abi.ErrInvalid)
		return
	}
	setResult(stack, ex.StartResponse(status, headers))
}

func bodyWrite(ctx context.Context, mod api.Module, stack []uint64) {
	p := limitedBytes(mod, abi.ImportBodyWrite, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.MaxWriteBytes)
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	setResult(stack, ex.WriteBody(p))
}

func bodyFlush(ctx context.Context, _ api.Module, stack []uint64) {
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	setResult(stack, ex.Flush())
}

func logMessage(ctx context.Context, mod api.Module, stack []uint64) {
	level := api.DecodeI32(stack[0])
	msg := guestBytes(mod, abi.ImportLog, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	if len(msg) > abi.MaxLogBytes {
		msg = msg[:abi.MaxLogBytes]
	}
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	if inst == nil {
		// Called during initialization: wazero gives the module, not ours.
		return
	}
	inst.log(level, msg)
}

func staticURL(ctx context.Context, mod api.Module, stack []uint64) {
	path := limitedBytes(mod, abi.ImportStaticURL, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.MaxStaticPathBytes)
	buf, bufLen := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	url := ex.StaticURL(string(path))
	if uint64(len(url)) <= uint64(bufLen) {
		copy(guestBytes(mod, abi.ImportStaticURL, buf, uint32(len(url))), url)
	}
	setResult(stack, int32(len(url)))
}

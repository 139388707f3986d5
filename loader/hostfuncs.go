package loader

import (
	"context"
	"fmt"

	"github.com/wasmhost/wasmhost/abi"
)

// callContext is the context a request's guest call runs under. The host
// functions find the calling instance through it; a context value is the one
// channel the engines pass from the caller of an export to the host functions
// that export calls.
type callContext struct {
	context.Context
	inst  *instance
	grace graceState // a request's call: how it ends (grace.go)
}

type instanceKey struct{}

func (c *callContext) Value(key any) any {
	if key == (instanceKey{}) {
		return c.inst
	}
	return c.Context.Value(key)
}

// trap is what a host function panics with when a guest breaks the ABI (a
// pointer outside its memory, an absurd length). The engine turns the panic
// into an error from the guest call, which discards the instance: the host
// itself is never at risk.
type trap struct{ msg string }

func (t *trap) Error() string { return "wasmhost ABI violation: " + t.msg }

func trapf(format string, args ...any) { panic(&trap{fmt.Sprintf(format, args...)}) }

// guestMemory is the part of an instance's linear memory that host
// functions touch. Each engine's memory type has these two methods, so a
// host function body is written once, whatever engine runs the guest.
type guestMemory interface {
	Read(offset, byteCount uint32) ([]byte, bool)
	Size() uint32
}

// hostFunc is the body of one host function, in the engine-neutral form
// every engine adapts to: parameters and results travel on stack, as in
// wazero's stack-based GoModuleFunc, which calls without reflection or
// allocation (host crossings are the main per-request cost of a guest).
type hostFunc func(ctx context.Context, mem guestMemory, stack []uint64)

// valueType is a wasm value type a host function takes or returns.
type valueType byte

const (
	i32 valueType = iota
	i64
)

// hostFunction is one import of the abi.ImportModule module.
type hostFunction struct {
	name            string
	fn              hostFunc
	params, results []valueType
}

// hostFunctions is the ABI's host module, the one list every engine builds
// its host module from.
var hostFunctions = []hostFunction{
	{abi.ImportEnvironGet, environGet, []valueType{i32, i32}, []valueType{i32}},
	{abi.ImportBodyRead, blocking(bodyRead), []valueType{i32, i32}, []valueType{i32}},
	{abi.ImportStartResponse, startResponse, []valueType{i32, i32, i32}, []valueType{i32}},
	{abi.ImportBodyWrite, blocking(bodyWrite), []valueType{i32, i32}, []valueType{i32}},
	{abi.ImportBodyFlush, blocking(bodyFlush), nil, []valueType{i32}},
	{abi.ImportLog, logMessage, []valueType{i32, i32, i32}, nil},
	{abi.ImportStaticURL, staticURL, []valueType{i32, i32, i32, i32}, []valueType{i32}},
}

// guestBytes returns the guest memory at [ptr, ptr+n), or traps.
func guestBytes(mem guestMemory, fn string, ptr, n uint32) []byte {
	b, ok := mem.Read(ptr, n)
	if !ok {
		trapf("%s: range [%d, %d+%d) is outside guest memory (%d bytes)", fn, ptr, ptr, n, mem.Size())
	}
	return b
}

// limitedBytes is guestBytes for an argument the ABI bounds: a length over
// max traps before the host touches anything, since it is the size of what
// the host would have to hold.
func limitedBytes(mem guestMemory, fn string, ptr, n, max uint32) []byte {
	if n > max {
		trapf("%s: %d bytes, more than the limit of %d", fn, n, max)
	}
	return guestBytes(mem, fn, ptr, n)
}

// exchangeOf returns the exchange of the request the calling instance is
// serving, or nil when it is not serving one (a host call made during
// initialization, say).
func exchangeOf(ctx context.Context) Exchange {
	inst := instanceOf(ctx)
	if inst == nil {
		return nil
	}
	return inst.ex
}

// instanceOf returns the instance making a host call during a request.
func instanceOf(ctx context.Context) *instance {
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	return inst
}

// blocking marks a host function that may wait on the network (the
// client's body and response, a store, an outbound request, a chain's
// downstream): the guest gives its place in the scheduler back for the
// call, as it does for sleeps.
func blocking(fn hostFunc) hostFunc {
	return func(ctx context.Context, mem guestMemory, stack []uint64) {
		inst := instanceOf(ctx)
		if inst == nil {
			fn(ctx, mem, stack)
			return
		}
		inst.pause()
		defer inst.resume()
		fn(ctx, mem, stack)
	}
}

// Stack slots hold i32 values in their low 32 bits.
func argU32(stack []uint64, i int) uint32 { return uint32(stack[i]) }
func argI32(stack []uint64, i int) int32  { return int32(uint32(stack[i])) }

func setResult(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }

func environGet(ctx context.Context, mem guestMemory, stack []uint64) {
	buf, bufLen := argU32(stack, 0), argU32(stack, 1)
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	env := ex.Environ()
	if uint64(len(env)) <= uint64(bufLen) {
		copy(guestBytes(mem, abi.ImportEnvironGet, buf, uint32(len(env))), env)
	}
	setResult(stack, int32(len(env)))
}

func bodyRead(ctx context.Context, mem guestMemory, stack []uint64) {
	buf, bufLen := argU32(stack, 0), argU32(stack, 1)
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	if bufLen > 1<<30 { // keep n representable as a positive i32
		bufLen = 1 << 30
	}
	setResult(stack, ex.ReadBody(guestBytes(mem, abi.ImportBodyRead, buf, bufLen)))
}

func startResponse(ctx context.Context, mem guestMemory, stack []uint64) {
	status := argI32(stack, 0)
	headers := limitedBytes(mem, abi.ImportStartResponse, argU32(stack, 1), argU32(stack, 2), abi.MaxHeaderBytes)
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

func bodyWrite(ctx context.Context, mem guestMemory, stack []uint64) {
	p := limitedBytes(mem, abi.ImportBodyWrite, argU32(stack, 0), argU32(stack, 1), abi.MaxWriteBytes)
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	setResult(stack, ex.WriteBody(p))
}

func bodyFlush(ctx context.Context, _ guestMemory, stack []uint64) {
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	setResult(stack, ex.Flush())
}

func logMessage(ctx context.Context, mem guestMemory, stack []uint64) {
	level := argI32(stack, 0)
	msg := guestBytes(mem, abi.ImportLog, argU32(stack, 1), argU32(stack, 2))
	if len(msg) > abi.MaxLogBytes {
		msg = msg[:abi.MaxLogBytes]
	}
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	if inst == nil {
		// Called during initialization, before the instance is ours.
		return
	}
	inst.log(level, msg)
}

func staticURL(ctx context.Context, mem guestMemory, stack []uint64) {
	path := limitedBytes(mem, abi.ImportStaticURL, argU32(stack, 0), argU32(stack, 1), abi.MaxStaticPathBytes)
	buf, bufLen := argU32(stack, 2), argU32(stack, 3)
	ex := exchangeOf(ctx)
	if ex == nil {
		setResult(stack, abi.ErrState)
		return
	}
	url := ex.StaticURL(string(path))
	if uint64(len(url)) <= uint64(bufLen) {
		copy(guestBytes(mem, abi.ImportStaticURL, buf, uint32(len(url))), url)
	}
	setResult(stack, int32(len(url)))
}

package loader

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/wasmhost/wasmhost/abi"
)

// Services are what a plugin reaches beyond the request it serves: the
// key-value stores granted to it, and outbound HTTP within its
// allowed_hosts. The host implements them per plugin (Config.Services); a
// plugin without them is refused every services call.
//
// An error of a Store or an Outbound reaches the guest as an abi.Err*
// code, with its message for result_get. An error with a method
//
//	Errno() int32
//
// in its chain (errors.As) gets that code: abi.ErrNotFound for a key that
// is absent, abi.ErrDenied for a destination the plugin may not reach,
// and so on. Otherwise an error of the request's context is abi.ErrClosed,
// and any other error abi.ErrService.
type Services interface {
	// Store returns the store named name, or an error saying why the
	// plugin may not use it (not declared, not granted).
	Store(name string) (Store, error)
	// Outbound returns the plugin's outbound HTTP client; nil refuses
	// every request.
	Outbound() Outbound
}

// Store is one key-value store, as the kv_* host functions use it: keys
// are strings, values bytes. Every call runs under the guest call's
// context; implementations are safe for concurrent use. The values the
// loader passes are copies of guest memory, which a store may keep.
type Store interface {
	// Get returns the value of key; absent is an error (abi.ErrNotFound).
	Get(ctx context.Context, key string) ([]byte, error)
	// GetMany returns the values of the keys that are present, absent
	// keys left out of the map.
	GetMany(ctx context.Context, keys []string) (map[string][]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	Exists(ctx context.Context, key string) (bool, error)
	// Keys returns the keys starting with prefix, sorted bytewise.
	Keys(ctx context.Context, prefix string) ([]string, error)
	// Increment adds delta to the decimal integer under key (absent
	// counts as 0) and returns the new value.
	Increment(ctx context.Context, key string, delta int64) (int64, error)
	// CompareAndSwap sets key to new if its value is old (with old nil,
	// if key is absent), and reports whether it did.
	CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error)
}

// Outbound sends a plugin's HTTP requests to the destinations it may
// reach. The loader builds each request from the guest's http_request and
// streams its body; the implementation decides where it may go.
type Outbound interface {
	// Check refuses, before anything is sent, a request the plugin may
	// not make (an error with Errno abi.ErrDenied).
	Check(req *http.Request) error
	// RoundTrip sends req and returns the response head; release frees
	// what the response holds once its body is no longer read. A
	// destination refused on the way (a redirect, an address the name
	// resolves to) is an error with Errno abi.ErrDenied.
	RoundTrip(req *http.Request) (resp *http.Response, release func(), err error)
}

// errnoOf returns the abi.Err* code an error of a service names, if any
// (see Services).
func errnoOf(err error) (int32, bool) {
	var coded interface{ Errno() int32 }
	if errors.As(err, &coded) {
		return coded.Errno(), true
	}
	return 0, false
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
	Store
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

package loader

import (
	"context"
	"fmt"

	"github.com/wasmhost/wasmhost/abi"
)

// Kind is what a plugin is for: serving requests (a handler, registered
// with sdk.Handle) or wrapping the rest of a chain (a middleware, registered
// with sdk.HandleMiddleware). The host needs to know it before a request
// arrives, so the module says it once, after its initialization.
type Kind int32

const (
	Handler    Kind = abi.KindHandler
	Middleware Kind = abi.KindMiddleware
)

func (k Kind) String() string {
	switch k {
	case Handler:
		return "handler"
	case Middleware:
		return "middleware"
	}
	return fmt.Sprintf("kind %d", int32(k))
}

// readKind asks an initialized instance for its kind. Modules built before
// ABI 1.2 do not export abi.ExportKind: they are handlers.
func readKind(ctx context.Context, inst *instance) (Kind, error) {
	f := inst.mod.function(abi.ExportKind)
	if f == nil {
		return Handler, nil
	}
	// Its signature was checked with the module's exports (checkExports).
	var stack [1]uint64
	if err := f.CallWithStack(ctx, stack[:]); err != nil {
		return 0, fmt.Errorf("%s: %w", abi.ExportKind, err)
	}
	res := stack
	switch k := Kind(int32(res[0])); k {
	case Handler, Middleware:
		return k, nil
	default:
		return 0, fmt.Errorf("%s returned %d, which is neither a handler (%d) nor a middleware (%d)",
			abi.ExportKind, int32(k), abi.KindHandler, abi.KindMiddleware)
	}
}

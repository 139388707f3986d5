package loader

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wasmhost/wasmhost/internal/stacktrace"
)

// Errors of Plugin.Serve that are not the guest's fault.
var (
	// ErrTimeout: the request's deadline passed while the guest ran (it was
	// stopped) or while it waited for an instance.
	ErrTimeout = errors.New("request timed out")
	// ErrCanceled: the request's context was cancelled (the client went away).
	ErrCanceled = errors.New("request cancelled")
	// ErrClosed: the plugin was closed (replaced or unloaded).
	ErrClosed = errors.New("plugin closed")
)

// LoadError is why a plugin could not be loaded. Its message names the
// plugin and the file so that one line says what is wrong and where.
type LoadError struct {
	Plugin string
	Path   string
	Err    error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("plugin %q (%s): %v", e.Plugin, e.Path, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// GuestError is a request that failed inside the guest: a trap (panic that
// reached the runtime, out of memory, a bad pointer passed to the host), an
// exit of the guest's runtime, or a panic the SDK caught.
type GuestError struct {
	Kind string // "trap", "exit", "panic", or "init"
	// Message is the runtime's description: for a trap, wazero's message and
	// the wasm stack trace with function names.
	Message string
}

// Error is the message with its stack trace's recursions collapsed
// (stacktrace.Collapse), so that a guest that overflowed its stack in a
// recursion shows a few frames, not thousands.
func (e *GuestError) Error() string { return "guest " + e.Kind + ": " + stacktrace.Collapse(e.Message) }

// Summary is the first line of the message, for logs and status pages.
func (e *GuestError) Summary() string {
	first, _, _ := strings.Cut(e.Message, "\n")
	return first
}

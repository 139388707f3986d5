package loader

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/wasmhost/wasmhost/internal/version"
)

// The engine seam. A plugin runs on one of several WebAssembly runtimes
// (engines) of the same lineage; everything that differs between them sits
// behind the small interfaces below, and the pool, swap, host functions,
// limits and metrics are written once against them.
//
// An engine value belongs to one Loader: it owns that loader's compilation
// cache for the engine. A runtime belongs to one plugin (the memory limit
// is a runtime setting), with WASI and the host module already in it.
//
// engine_wazero.go adapts github.com/tetratelabs/wazero to this seam, and
// engine_wazy.go, generated from it by internal/wazygen, adapts
// github.com/samyfodil/wazy: the two engines have one shape of API under
// different import paths, so the second adapter is the first with its
// imports and engine-named identifiers rewritten in the syntax tree. What
// really differs between them is written by hand in engine_wazero_opts.go
// and engine_wazy_opts.go.

//go:generate go run ./internal/wazygen/cmd

// engine makes runtimes of one kind, sharing one compilation cache.
type engine interface {
	// newRuntime returns a runtime with wasi_snapshot_preview1 and the
	// abi.ImportModule host module (built from hostFunctions) instantiated.
	newRuntime(ctx context.Context, opts runtimeOptions) (engineRuntime, error)
	// close releases the in-memory part of the compilation cache.
	close(ctx context.Context) error
}

// runtimeOptions configure one plugin's runtime.
type runtimeOptions struct {
	memoryLimit int64 // bytes of linear memory per instance; 0 for the engine's 4 GiB
	interpreted bool
}

// engineRuntime is one plugin's runtime.
type engineRuntime interface {
	// compile compiles wasm with workers goroutines (where the engine can)
	// and fixes how its instances are set up.
	compile(ctx context.Context, wasm []byte, workers int, opts moduleOptions) (compiledModule, error)
	// close frees the runtime and everything instantiated in it.
	close(ctx context.Context) error
}

// moduleOptions are the WASI setup every instance of a plugin shares. The
// clock and randomness are always the system's: the engines' defaults are
// fake for determinism, and deterministic randomness in a web handler is a
// security bug.
type moduleOptions struct {
	args []string
	env  map[string]string
	dirs []Dir // checked to exist by the caller
}

// instanceOptions are what differs per instance: its output writers (fixed
// at instantiation, so they route per request themselves) and its sleep.
type instanceOptions struct {
	stdout, stderr io.Writer
	nanosleep      func(ns int64)
	// mappedMemory backs linear memory with its own mapping (memory_linux.go).
	mappedMemory bool
}

// compiledModule is a compiled plugin, as its imports, exports and a way to
// instantiate it.
type compiledModule interface {
	importedFunctions() []importName
	exportedFunctions() map[string]funcType
	exportsMemory() bool
	// instantiate runs the module's start function (_initialize) under ctx.
	instantiate(ctx context.Context, opts instanceOptions) (guestModule, error)
	// close frees the module's machine code. Closing the runtime does
	// not: the engines keep compiled modules in the compilation cache's
	// engine, which every runtime of a loader shares, counted by how
	// often they were compiled, until each compilation is closed.
	close(ctx context.Context) error
}

type importName struct{ module, name string }

type funcType struct{ params, results []valueType }

func (t funcType) String() string { return fmt.Sprintf("%v -> %v", t.params, t.results) }

// neutralTypes maps wasm value types (the same bytes in every engine's
// api.ValueType, an alias of byte) to valueType; f32, f64 and the rest
// become otherType.
func neutralTypes(ts []byte) []valueType {
	out := make([]valueType, len(ts))
	for i, t := range ts {
		switch t {
		case 0x7f:
			out[i] = i32
		case 0x7e:
			out[i] = i64
		default:
			out[i] = otherType
		}
	}
	return out
}

// wasmTypes maps valueTypes back to wasm value type bytes.
func wasmTypes(ts []valueType) []byte {
	out := make([]byte, len(ts))
	for i, t := range ts {
		out[i] = 0x7f // i32
		if t == i64 {
			out[i] = 0x7e
		}
	}
	return out
}

// otherType is a value type no host function or ABI export uses (f32, f64,
// v128, references).
const otherType valueType = 0xff

// limitPages converts a memory limit in bytes to wasm pages, 0 for none.
func limitPages(limit int64) uint32 {
	if limit <= 0 {
		return 0
	}
	pages := (limit + 65535) / 65536
	if pages > 65536 {
		pages = 65536
	}
	return uint32(pages)
}

func (t valueType) String() string {
	if t == i64 {
		return "i64"
	}
	if t == i32 {
		return "i32"
	}
	return "other"
}

// guestModule is one instance.
type guestModule interface {
	memory() guestMemory
	// function returns an exported function, or nil.
	function(name string) guestFunction
	close(ctx context.Context)
	// failure says how a call of this instance ended in err.
	failure(err error) (kind failureKind, exitCode uint32)
}

// guestFunction is an exported function; both engines' api.Function have
// this method, which calls without allocating.
type guestFunction interface {
	CallWithStack(ctx context.Context, stack []uint64) error
}

// failureKind is how a guest call failed, in the engine's own terms.
type failureKind int

const (
	failTrap     failureKind = iota // anything else: a trap, a host function's panic, or (wazy) an interrupted call
	failDeadline                    // the engine stopped the guest for the context's deadline
	failCanceled                    // the engine stopped the guest for the context's cancellation
	failExit                        // the guest exited (proc_exit) with exitCode
)

// Engine names, as site.hcl spells them.
const (
	EngineWazero = "wazero"
	EngineWazy   = "wazy"
	// DefaultEngine runs a plugin that names none: the reference runtime.
	DefaultEngine = EngineWazero
)

// engineKind describes an engine this build knows.
type engineKind struct {
	name    string
	version func() string
	// open makes the engine for one loader, with its cache in cacheDir
	// ("" for a cache in memory only).
	open func(cacheDir string, opts Options) (engine, error)
}

// engineKinds lists the engines; the first is the default.
var engineKinds = []engineKind{
	{EngineWazero, version.Wazero, openWazero},
	{EngineWazy, version.Wazy, openWazy},
}

// Engines returns the names of the engines, the default first.
func Engines() []string {
	names := make([]string, len(engineKinds))
	for i, k := range engineKinds {
		names[i] = k.name
	}
	return names
}

func findEngine(name string) (engineKind, error) {
	if name == "" {
		name = DefaultEngine
	}
	for _, k := range engineKinds {
		if k.name == name {
			return k, nil
		}
	}
	return engineKind{}, fmt.Errorf("unknown engine %q (choose one of: %s)", name, strings.Join(Engines(), ", "))
}

// engineID names an engine and its version, the unit a compilation cache
// is kept apart by: machine code of one is no use to another.
func (k engineKind) id() string { return k.name + "-" + k.version() }

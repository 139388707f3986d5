// Code generated from engine_wazero.go by go generate (wazy.sed); DO NOT EDIT.

package loader

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/samyfodil/wazy"
	"github.com/samyfodil/wazy/api"
	"github.com/samyfodil/wazy/imports/wasi_snapshot_preview1"
	"github.com/samyfodil/wazy/sys"

	"github.com/wasmhost/wasmhost/abi"
)

// wazyEngine makes the runtimes of one loader, sharing one cache.
type wazyEngine struct {
	cache          wazy.CompilationCache
	noInterruption bool
}

func openWazy(cacheDir string, opts Options) (engine, error) {
	e := &wazyEngine{noInterruption: opts.NoInterruption}
	if cacheDir == "" {
		e.cache = wazy.NewCompilationCache()
		return e, nil
	}
	c, err := wazy.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return nil, err
	}
	e.cache = c
	return e, nil
}

func (e *wazyEngine) close(ctx context.Context) error { return e.cache.Close(ctx) }

func (e *wazyEngine) newRuntime(ctx context.Context, opts runtimeOptions) (engineRuntime, error) {
	var cfg wazy.RuntimeConfig
	if opts.interpreted {
		cfg = wazy.NewRuntimeConfigInterpreter()
	} else {
		cfg = wazy.NewRuntimeConfigCompiler().WithCompilationCache(e.cache)
	}
	cfg = wazyInterruption(cfg, e.noInterruption)
	if pages := limitPages(opts.memoryLimit); pages > 0 {
		cfg = cfg.WithMemoryLimitPages(pages)
	}
	rt := &wazyRuntime{rt: wazy.NewRuntimeWithConfig(ctx, cfg)}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt.rt); err != nil {
		rt.rt.Close(ctx)
		return nil, fmt.Errorf("WASI: %w", err)
	}
	b := rt.rt.NewHostModuleBuilder(abi.ImportModule)
	for _, f := range hostFunctions {
		fn := f.fn
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			fn(ctx, mod.Memory(), stack)
		}), wasmTypes(f.params), wasmTypes(f.results)).Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		rt.rt.Close(ctx)
		return nil, fmt.Errorf("host functions: %w", err)
	}
	return rt, nil
}

type wazyRuntime struct{ rt wazy.Runtime }

func (r *wazyRuntime) close(ctx context.Context) error { return r.rt.Close(ctx) }

func (r *wazyRuntime) compile(ctx context.Context, wasm []byte, workers int, opts moduleOptions) (compiledModule, error) {
	m, err := r.rt.CompileModule(api.WithCompilationWorkers(ctx, workers), wasm)
	if err != nil {
		return nil, err
	}
	cfg := wazy.NewModuleConfig().
		WithName(""). // anonymous: many instances of one module
		WithArgs(opts.args...).
		WithStartFunctions(abi.ExportInitialize).
		WithSysWalltime().WithSysNanotime().
		WithRandSource(rand.Reader)
	for _, k := range slices.Sorted(maps.Keys(opts.env)) {
		cfg = cfg.WithEnv(k, opts.env[k])
	}
	if len(opts.dirs) > 0 {
		cfg = cfg.WithFSConfig(wazyFS(opts.dirs))
	}
	return &wazyCompiled{rt: r.rt, m: m, cfg: cfg}, nil
}

type wazyCompiled struct {
	rt  wazy.Runtime
	m   wazy.CompiledModule
	cfg wazy.ModuleConfig
}

func (c *wazyCompiled) importedFunctions() []importName {
	var out []importName
	for _, f := range c.m.ImportedFunctions() {
		mod, name, _ := f.Import()
		out = append(out, importName{mod, name})
	}
	return out
}

func (c *wazyCompiled) exportedFunctions() map[string]funcType {
	out := map[string]funcType{}
	for name, f := range c.m.ExportedFunctions() {
		out[name] = funcType{neutralTypes(f.ParamTypes()), neutralTypes(f.ResultTypes())}
	}
	return out
}

func (c *wazyCompiled) exportsMemory() bool { return len(c.m.ExportedMemories()) > 0 }

// wazyMappedMemory hands the engine one newMappedMemory per instance.
var wazyMappedMemory = api.MemoryAllocatorFunc(func(cap, max uint64) api.LinearMemory {
	if m := newMappedMemory(cap, max); m != nil {
		return m
	}
	return nil
})

func (c *wazyCompiled) instantiate(ctx context.Context, opts instanceOptions) (guestModule, error) {
	if opts.mappedMemory && haveMappedMemory {
		ctx = api.WithMemoryAllocator(ctx, wazyMappedMemory)
	}
	cfg := c.cfg.WithStdout(opts.stdout).WithStderr(opts.stderr).WithNanosleep(opts.nanosleep)
	mod, err := c.rt.InstantiateModule(ctx, c.m, cfg)
	if err != nil {
		return nil, err
	}
	return wazyModule{mod}, nil
}

type wazyModule struct{ mod api.Module }

func (m wazyModule) memory() guestMemory       { return m.mod.Memory() }
func (m wazyModule) close(ctx context.Context) { m.mod.Close(ctx) }
func (m wazyModule) function(name string) guestFunction {
	if f := m.mod.ExportedFunction(name); f != nil {
		return f
	}
	return nil
}

func (m wazyModule) failure(err error) (failureKind, uint32) {
	var exit *sys.ExitError
	if !errors.As(err, &exit) {
		return failTrap, 0
	}
	switch exit.ExitCode() {
	case sys.ExitCodeDeadlineExceeded:
		return failDeadline, 0
	case sys.ExitCodeContextCanceled:
		return failCanceled, 0
	}
	return failExit, exit.ExitCode()
}

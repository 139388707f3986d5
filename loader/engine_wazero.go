package loader

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmhost/wasmhost/abi"
)

// The engine makes the runtimes of one loader, sharing one cache.
type wazeroEngine struct {
	cache          wazero.CompilationCache
	noInterruption bool
}

func openWazero(cacheDir string, opts Options) (engine, error) {
	e := &wazeroEngine{noInterruption: opts.NoInterruption}
	if cacheDir == "" {
		e.cache = wazero.NewCompilationCache()
		return e, nil
	}
	c, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return nil, err
	}
	e.cache = c
	return e, nil
}

func (e *wazeroEngine) close(ctx context.Context) error { return e.cache.Close(ctx) }

func (e *wazeroEngine) newRuntime(ctx context.Context, opts runtimeOptions) (engineRuntime, error) {
	var cfg wazero.RuntimeConfig
	if opts.interpreted {
		cfg = wazero.NewRuntimeConfigInterpreter()
	} else {
		cfg = wazero.NewRuntimeConfigCompiler().WithCompilationCache(e.cache)
	}
	cfg = wazeroInterruption(cfg, e.noInterruption)
	if pages := limitPages(opts.memoryLimit); pages > 0 {
		cfg = cfg.WithMemoryLimitPages(pages)
	}
	rt := &wazeroRuntime{rt: wazero.NewRuntimeWithConfig(ctx, cfg)}
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

type wazeroRuntime struct{ rt wazero.Runtime }

func (r *wazeroRuntime) close(ctx context.Context) error { return r.rt.Close(ctx) }

func (r *wazeroRuntime) compile(ctx context.Context, wasm []byte, workers int, opts moduleOptions) (compiledModule, error) {
	m, err := r.rt.CompileModule(experimental.WithCompilationWorkers(ctx, workers), wasm)
	if err != nil {
		return nil, err
	}
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances of one module
		WithArgs(opts.args...).
		WithStartFunctions(abi.ExportInitialize).
		WithSysWalltime().WithSysNanotime().
		WithRandSource(rand.Reader)
	for _, k := range slices.Sorted(maps.Keys(opts.env)) {
		cfg = cfg.WithEnv(k, opts.env[k])
	}
	if len(opts.dirs) > 0 {
		cfg = cfg.WithFSConfig(wazeroFS(opts.dirs))
	}
	return &wazeroCompiled{rt: r.rt, m: m, cfg: cfg}, nil
}

type wazeroCompiled struct {
	rt  wazero.Runtime
	m   wazero.CompiledModule
	cfg wazero.ModuleConfig
}

func (c *wazeroCompiled) importedFunctions() []importName {
	var out []importName
	for _, f := range c.m.ImportedFunctions() {
		mod, name, _ := f.Import()
		out = append(out, importName{mod, name})
	}
	return out
}

func (c *wazeroCompiled) exportedFunctions() map[string]funcType {
	out := map[string]funcType{}
	for name, f := range c.m.ExportedFunctions() {
		out[name] = funcType{neutralTypes(f.ParamTypes()), neutralTypes(f.ResultTypes())}
	}
	return out
}

func (c *wazeroCompiled) close(ctx context.Context) error { return c.m.Close(ctx) }

func (c *wazeroCompiled) exportsMemory() bool { return len(c.m.ExportedMemories()) > 0 }

// The memory allocator hands the engine one newMappedMemory per instance.
var wazeroMappedMemory = experimental.MemoryAllocatorFunc(func(cap, max uint64) experimental.LinearMemory {
	if m := newMappedMemory(cap, max); m != nil {
		return m
	}
	return nil
})

func (c *wazeroCompiled) instantiate(ctx context.Context, opts instanceOptions) (guestModule, error) {
	if opts.mappedMemory && haveMappedMemory {
		ctx = experimental.WithMemoryAllocator(ctx, wazeroMappedMemory)
	}
	cfg := c.cfg.WithStdout(opts.stdout).WithStderr(opts.stderr).WithNanosleep(opts.nanosleep)
	mod, err := c.rt.InstantiateModule(ctx, c.m, cfg)
	if err != nil {
		return nil, err
	}
	return wazeroModule{mod}, nil
}

type wazeroModule struct{ mod api.Module }

func (m wazeroModule) memory() guestMemory       { return m.mod.Memory() }
func (m wazeroModule) close(ctx context.Context) { m.mod.Close(ctx) }
func (m wazeroModule) function(name string) guestFunction {
	if f := m.mod.ExportedFunction(name); f != nil {
		return f
	}
	return nil
}

func (m wazeroModule) failure(err error) (failureKind, uint32) {
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

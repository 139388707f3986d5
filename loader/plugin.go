package loader

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmhost/wasmhost/abi"
)

// Config describes one plugin to load.
type Config struct {
	Name        string
	Path        string
	Instances   int               // the most live instances; at least 1
	MemoryLimit int64             // linear memory cap per instance in bytes; 0 for wazero's 4 GiB
	Env         map[string]string // WASI environment variables (os.Getenv in the guest)
	Dirs        []Dir             // host folders the guest may open; none by default
	// Interpreted runs the module in wazero's interpreter: ready in a
	// fraction of the time compiling takes, and many times slower to run.
	// A hot swap of a module that is not compiled yet serves it interpreted
	// until its compiled version is ready.
	Interpreted bool
	// Background compiles with one goroutine instead of one per CPU: for a
	// compilation that something else (an interpreted version) covers for,
	// and that should leave the CPU to the requests being served.
	Background bool
	// InitTimeout bounds an instance's initialization (the guest's runtime
	// start and package init functions); 0 means 10 seconds.
	InitTimeout time.Duration
}

// Dir grants a guest access to a host folder, mounted at Guest.
type Dir struct {
	Guest, Host string
	Writable    bool
}

// Plugin is a loaded, validated module with its pool of instances.
type Plugin struct {
	Name     string
	Path     string
	Version  string // first 12 hex digits of the module's SHA-256
	SHA256   string
	LoadedAt time.Time
	// ABIMajor and ABIMinor are the ABI version the guest was built against.
	ABIMajor, ABIMinor uint16
	Interpreted        bool
	Kind               Kind // handler or middleware, as the module says

	cfg           Config
	log           hclog.Logger
	rt            wazero.Runtime
	compiled      wazero.CompiledModule
	modCfg        wazero.ModuleConfig
	pool          *pool
	retireAt      uint32 // linear memory size above which an instance is retired
	initialMemory uint64 // linear memory of a fresh instance, after initialization

	requests, traps, timeouts, canceled atomic.Int64
	memHigh                             atomic.Uint64 // largest linear memory seen after a request
}

// Load reads, compiles and validates a plugin, and keeps one initialized
// instance warm, so a plugin that loads is known to be able to serve. Every
// error is a *LoadError naming the plugin and its file.
func (l *Loader) Load(ctx context.Context, cfg Config) (*Plugin, error) {
	p, err := l.load(ctx, cfg)
	if err != nil {
		return nil, &LoadError{Plugin: cfg.Name, Path: cfg.Path, Err: err}
	}
	return p, nil
}

func (l *Loader) load(ctx context.Context, cfg Config) (*Plugin, error) {
	if cfg.Instances < 1 {
		cfg.Instances = 1
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = 10 * time.Second
	}
	wasm, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return nil, fmt.Errorf("not a WebAssembly module (it does not start with the wasm magic bytes \\0asm)")
	}
	sum := sha256.Sum256(wasm)
	p := &Plugin{
		Name:        cfg.Name,
		Path:        cfg.Path,
		SHA256:      hex.EncodeToString(sum[:]),
		LoadedAt:    time.Now(),
		cfg:         cfg,
		Interpreted: cfg.Interpreted,
		log:         l.log.Named(cfg.Name),
	}
	p.Version = p.SHA256[:12]

	p.rt = wazero.NewRuntimeWithConfig(ctx, l.runtimeConfig(cfg.MemoryLimit, cfg.Interpreted))
	ok := false
	defer func() {
		if !ok {
			p.rt.Close(ctx)
		}
	}()
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return nil, fmt.Errorf("WASI: %w", err)
	}
	if err := instantiateHostModule(ctx, p.rt); err != nil {
		return nil, fmt.Errorf("host functions: %w", err)
	}
	start := time.Now()
	unlock := func() {}
	if !cfg.Interpreted {
		unlock = l.lockCompile(p.SHA256)
	}
	workers := compileWorkers
	if cfg.Background {
		workers = 1
	}
	p.compiled, err = p.rt.CompileModule(experimental.WithCompilationWorkers(ctx, workers), wasm)
	unlock()
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	if !cfg.Interpreted {
		l.markCompiled(p.SHA256)
	}
	compileTime := time.Since(start)
	if err := checkImports(p.compiled); err != nil {
		return nil, err
	}
	if err := checkExports(p.compiled); err != nil {
		return nil, err
	}

	p.modCfg = wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances of one module
		WithArgs(cfg.Name).
		WithStartFunctions(abi.ExportInitialize).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, k := range slices.Sorted(maps.Keys(cfg.Env)) {
		p.modCfg = p.modCfg.WithEnv(k, cfg.Env[k])
	}
	if len(cfg.Dirs) > 0 {
		fs, err := fsConfig(cfg.Dirs)
		if err != nil {
			return nil, err
		}
		p.modCfg = p.modCfg.WithFSConfig(fs)
	}
	p.pool = newPool(cfg.Instances, p.newInstance, func() { p.rt.Close(context.Background()) })
	p.pool.total = &l.live

	start = time.Now()
	inst, err := p.newInstance(ctx)
	if err != nil {
		return nil, err
	}
	initTime := time.Since(start)
	if err := p.checkVersion(ctx, inst); err != nil {
		inst.close()
		return nil, err
	}
	if p.Kind, err = readKind(ctx, inst); err != nil {
		inst.close()
		return nil, err
	}
	p.initialMemory = uint64(inst.mem.Size())
	p.retireAt = retireThreshold(inst.mem.Size(), cfg.MemoryLimit)
	p.pool.slots <- struct{}{}
	p.pool.created.Add(1)
	p.pool.live.Add(1)
	l.live.Add(1)
	p.pool.maxLive.Store(1)
	p.pool.idle <- inst
	ok = true
	p.log.Debug("loaded", "path", cfg.Path, "version", p.Version, "kind", p.Kind, "abi", fmt.Sprintf("%d.%d", p.ABIMajor, p.ABIMinor),
		"compile", compileTime.Round(time.Millisecond), "init", initTime.Round(time.Microsecond))
	return p, nil
}

// fsConfig mounts the granted folders; without grants a guest has no file
// system at all (wazero's default).
func fsConfig(dirs []Dir) (wazero.FSConfig, error) {
	fs := wazero.NewFSConfig()
	for _, d := range dirs {
		st, err := os.Stat(d.Host)
		if err != nil {
			return nil, fmt.Errorf("dirs: %s = %s: %w", d.Guest, d.Host, unwrapPathError(err))
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("dirs: %s = %s: not a folder", d.Guest, d.Host)
		}
		if d.Writable {
			fs = fs.WithDirMount(d.Host, d.Guest)
		} else {
			fs = fs.WithReadOnlyDirMount(d.Host, d.Guest)
		}
	}
	return fs, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file")
		}
		return pe.Err
	}
	return err
}

// checkImports refuses a module that needs something this host does not
// provide, before instantiation would fail with a less helpful message.
func checkImports(m wazero.CompiledModule) error {
	known := map[string]bool{}
	for _, name := range abi.Imports {
		known[name] = true
	}
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch {
		case mod == wasi_snapshot_preview1.ModuleName:
		case mod == abi.ImportModule && known[name]:
		case mod == abi.ImportModule:
			return fmt.Errorf("imports %s.%s, which this host (ABI %d.%d) does not provide: the plugin needs a newer wasmhost",
				mod, name, abi.VersionMajor, abi.VersionMinor)
		default:
			return fmt.Errorf("imports %s.%s: wasmhost provides only the %q and %q modules",
				mod, name, abi.ImportModule, wasi_snapshot_preview1.ModuleName)
		}
	}
	return nil
}

// checkExports makes sure the module is a reactor that speaks our ABI.
func checkExports(m wazero.CompiledModule) error {
	ex := m.ExportedFunctions()
	if _, ok := ex[abi.ExportHandle]; !ok {
		if _, ok := ex[abi.ExportABIVersion]; !ok {
			return fmt.Errorf("does not export %s or %s: not a wasmhost plugin (a handler package imports github.com/wasmhost/wasmhost/sdk and calls sdk.Handle)",
				abi.ExportHandle, abi.ExportABIVersion)
		}
		return fmt.Errorf("does not export %s", abi.ExportHandle)
	}
	if _, ok := ex[abi.ExportInitialize]; !ok {
		if _, ok := ex["_start"]; ok {
			return errors.New("is a WASI command, not a reactor (built without -buildmode=c-shared): build it with `wasmhost build`")
		}
		return fmt.Errorf("does not export %s", abi.ExportInitialize)
	}
	i32 := api.ValueTypeI32
	want := map[string][2][]api.ValueType{
		abi.ExportHandle:     {{i32, i32}, {i32}},
		abi.ExportABIVersion: {nil, {i32}},
	}
	for name, sig := range want {
		f, ok := ex[name]
		if !ok {
			return fmt.Errorf("does not export %s", name)
		}
		if !sameTypes(f.ParamTypes(), sig[0]) || !sameTypes(f.ResultTypes(), sig[1]) {
			return fmt.Errorf("exports %s with the wrong signature %v -> %v", name, f.ParamTypes(), f.ResultTypes())
		}
	}
	if len(m.ExportedMemories()) == 0 {
		return fmt.Errorf("does not export its memory")
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (p *Plugin) checkVersion(ctx context.Context, inst *instance) error {
	res, err := inst.mod.ExportedFunction(abi.ExportABIVersion).Call(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", abi.ExportABIVersion, err)
	}
	p.ABIMajor, p.ABIMinor = abi.UnpackVersion(uint32(res[0]))
	if p.ABIMajor != abi.VersionMajor || p.ABIMinor > abi.VersionMinor {
		return fmt.Errorf("speaks wasmhost ABI %d.%d, but this host speaks %d.%d (rebuild the plugin with a matching SDK)",
			p.ABIMajor, p.ABIMinor, abi.VersionMajor, abi.VersionMinor)
	}
	return nil
}

// retireThreshold is how big an instance's linear memory may grow before
// the instance is retired after its request: memory never shrinks, so an
// instance that once needed a lot keeps holding it.
func retireThreshold(initial uint32, limit int64) uint32 {
	t := int64(64 << 20)
	if limit > 0 && limit/2 < t {
		t = limit / 2
	}
	if min := 4 * int64(initial); t < min {
		t = min
	}
	if t > 1<<32-1 {
		t = 1<<32 - 1
	}
	return uint32(t)
}

// Serve runs one request on an instance: ex is the request as the guest sees
// it, flags the abi.Flag* bits. ctx bounds both the wait for an instance and
// the guest's run; when it ends the guest is stopped. The error is nil, one
// of ErrTimeout, ErrCanceled, ErrClosed, or a *GuestError.
func (p *Plugin) Serve(ctx context.Context, ex Exchange, flags uint32) error {
	inst, err := p.pool.acquire(ctx)
	if err != nil {
		if err != ErrTimeout && err != ErrCanceled && err != ErrClosed {
			// A new instance failed to initialize: the guest's fault.
			p.traps.Add(1)
			p.log.Error("cannot create an instance", "error", err)
		}
		return p.countCtxError(err)
	}
	p.requests.Add(1)
	inst.ex, inst.ctx = ex, ctx
	stack := inst.stack[:]
	stack[0] = uint64(len(ex.Environ()))
	stack[1] = uint64(flags)
	// A fresh callContext per call: wazero's interruption goroutine may
	// still read the context after the call returns.
	err = inst.handle.CallWithStack(&callContext{Context: ctx, inst: inst}, stack)
	inst.stdout.flush()
	inst.stderr.flush()
	inst.ex, inst.ctx = nil, nil
	if err == nil && api.DecodeI32(stack[0]) == abi.HandleOK {
		size := inst.mem.Size()
		storeMax(&p.memHigh, uint64(size))
		if size > p.retireAt {
			p.pool.retired.Add(1)
			p.pool.discard(inst)
			return nil
		}
		p.pool.release(inst)
		return nil
	}
	storeMax(&p.memHigh, uint64(inst.mem.Size()))
	p.pool.discard(inst)
	return p.classify(ctx, err)
}

func (p *Plugin) classify(ctx context.Context, err error) error {
	var exit *sys.ExitError
	switch {
	case err == nil:
		return &GuestError{Kind: "panic", Message: "the handler panicked (its message is in the plugin's log)"}
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		p.timeouts.Add(1)
		return ErrTimeout
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeContextCanceled:
		p.canceled.Add(1)
		return ErrCanceled
	case errors.As(err, &exit):
		p.traps.Add(1)
		return &GuestError{Kind: "exit", Message: fmt.Sprintf(
			"the guest exited with code %d (a Go guest exits with 2 after an unrecovered panic or a fatal error such as running out of memory; see the plugin's log)",
			exit.ExitCode())}
	case ctx.Err() != nil:
		// The module was closed under the call; the error says so less clearly.
		return p.countCtxError(ctxError(ctx.Err()))
	}
	p.traps.Add(1)
	return &GuestError{Kind: "trap", Message: err.Error()}
}

func (p *Plugin) countCtxError(err error) error {
	switch err {
	case ErrTimeout:
		p.timeouts.Add(1)
	case ErrCanceled:
		p.canceled.Add(1)
	}
	return err
}

// Close stops the plugin taking requests; requests in flight finish, then
// every instance and the plugin's runtime are closed. Safe to call twice.
func (p *Plugin) Close() { p.pool.close() }

// Instances is the configured cap.
func (p *Plugin) Instances() int { return p.cfg.Instances }

// Stats are a plugin's counters since it was loaded.
type Stats struct {
	Live, Idle, Busy int64  // instances now
	MaxLive          int64  // most live instances at once
	Created          int64  // instances made (including the one made at load)
	Reused           int64  // requests served by an instance that served before
	Discarded        int64  // instances closed after a failure or for growing too much
	Retired          int64  // of Discarded, those closed only for their memory size
	Waits            int64  // requests that found no idle instance and the cap reached
	Requests         int64  // guest calls made
	Traps            int64  // calls that ended in a trap, panic exit or ABI violation
	Timeouts         int64  // requests stopped (or not started) for their deadline
	Canceled         int64  // requests whose context was cancelled
	MemoryInitial    uint64 // linear memory of a fresh instance, in bytes
	MemoryHighWater  uint64 // largest linear memory of an instance after a request
}

// Stats returns the current counters.
func (p *Plugin) Stats() Stats {
	return Stats{
		Live:            p.pool.live.Load(),
		Idle:            int64(len(p.pool.idle)),
		Busy:            p.pool.busy.Load(),
		MaxLive:         p.pool.maxLive.Load(),
		Created:         p.pool.created.Load(),
		Reused:          p.pool.reused.Load(),
		Discarded:       p.pool.discarded.Load(),
		Retired:         p.pool.retired.Load(),
		Waits:           p.pool.waits.Load(),
		Requests:        p.requests.Load(),
		Traps:           p.traps.Load(),
		Timeouts:        p.timeouts.Load(),
		Canceled:        p.canceled.Load(),
		MemoryInitial:   p.initialMemory,
		MemoryHighWater: p.memHigh.Load(),
	}
}

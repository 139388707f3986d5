package loader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
)

// wasiModule is the module name of the WASI imports every engine provides.
const wasiModule = "wasi_snapshot_preview1"

// Config describes one plugin to load.
type Config struct {
	Name        string
	Path        string
	Engine      string            // one of Engines(); "" for DefaultEngine
	Instances   int               // the most live instances; at least 1
	MemoryLimit int64             // linear memory cap per instance in bytes; 0 for the engine's 4 GiB
	Env         map[string]string // WASI environment variables (os.Getenv in the guest)
	Dirs        []Dir             // host folders the guest may open; none by default
	// Interpreted runs the module in the engine's interpreter: ready in a
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
	// CancelGrace is how long a guest may run on once its request is
	// cancelled; 0 means the package's CancelGrace.
	CancelGrace time.Duration
	// Services are the key-value stores and outbound HTTP the plugin may
	// use; nil for none.
	Services Services
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
	Engine   string // the engine running it
	SHA256   string
	LoadedAt time.Time
	// ABIMajor and ABIMinor are the ABI version the guest was built against.
	ABIMajor, ABIMinor uint16
	Interpreted        bool
	Kind               Kind // handler or middleware, as the module says

	cfg           Config
	log           hclog.Logger
	rt            engineRuntime
	compiled      compiledModule
	pool          *pool
	tenant        *tenant // the plugin's share of the CPU, across versions
	retireAt      uint32  // linear memory size above which an instance is retired
	initialMemory uint64  // linear memory of a fresh instance, after initialization

	requests, traps, timeouts, canceled atomic.Int64
	memHigh                             atomic.Uint64 // largest linear memory seen after a request
	drained                             atomic.Bool   // closed, and its last instance is gone
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
	wasm, err := readModule(cfg.Path)
	if err != nil {
		return nil, err
	}
	kind, err := findEngine(cfg.Engine)
	if err != nil {
		return nil, err
	}
	eng, done, err := l.useEngine(kind)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := checkDirs(cfg.Dirs); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(wasm)
	p := &Plugin{
		Name:        cfg.Name,
		Engine:      kind.name,
		Path:        cfg.Path,
		SHA256:      hex.EncodeToString(sum[:]),
		LoadedAt:    time.Now(),
		cfg:         cfg,
		Interpreted: cfg.Interpreted,
		log:         l.log.Named(cfg.Name),
		tenant:      l.sched.tenant(cfg.Name),
	}
	p.Version = p.SHA256[:12]

	p.rt, err = eng.newRuntime(ctx, runtimeOptions{memoryLimit: cfg.MemoryLimit, interpreted: cfg.Interpreted})
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	closeRuntime := func() {
		// The compiled module first: closing the runtime alone leaves its
		// machine code in the engine that every runtime shares.
		if p.compiled != nil {
			p.compiled.close(context.Background())
		}
		p.rt.close(context.Background())
		l.open.Add(-1)
		p.drained.Store(true)
	}
	ok := false
	defer func() {
		if !ok {
			closeRuntime()
		}
	}()
	start := time.Now()
	if err := l.compile(ctx, p, kind, wasm); err != nil {
		return nil, err
	}
	compileTime := time.Since(start)
	if err := checkImports(p.compiled); err != nil {
		return nil, err
	}
	if err := checkExports(p.compiled); err != nil {
		return nil, err
	}

	p.pool = newPool(cfg.Instances, p.newInstance, closeRuntime)
	p.pool.total = &l.live
	initTime, err := p.primePool(ctx)
	if err != nil {
		return nil, err
	}
	ok = true
	p.log.Debug("loaded", "path", cfg.Path, "version", p.Version, "engine", p.Engine, "kind", p.Kind, "abi", fmt.Sprintf("%d.%d", p.ABIMajor, p.ABIMinor),
		"compile", compileTime.Round(time.Millisecond), "init", initTime.Round(time.Microsecond))
	return p, nil
}

// readModule reads a .wasm file, refusing one that is not WebAssembly.
func readModule(path string) ([]byte, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return nil, fmt.Errorf("not a WebAssembly module (it does not start with the wasm magic bytes \\0asm)")
	}
	return wasm, nil
}

// compile compiles the plugin's module in its runtime. Machine code goes
// through the engine's cache, under the cross-process lock (lockCompile),
// and the cache files it added are marked as this module's; an
// interpreted plugin has no machine code, so none of that applies.
func (l *Loader) compile(ctx context.Context, p *Plugin, kind engineKind, wasm []byte) error {
	cfg := p.cfg
	unlock := func() {}
	var before map[string]bool
	if !cfg.Interpreted {
		var err error
		if unlock, err = l.lockCompile(ctx, kind, p.SHA256); err != nil {
			return fmt.Errorf("compile: %w", err)
		}
		before = l.cacheFiles()
	}
	workers := compileWorkers
	if cfg.Background {
		workers = 1
	}
	logged := l.logCompile(p.log, kind, p.SHA256, len(wasm), cfg.Interpreted)
	var err error
	p.compiled, err = p.rt.compile(ctx, wasm, workers, moduleOptions{args: []string{cfg.Name}, env: cfg.Env, dirs: cfg.Dirs})
	logged(err)
	unlock()
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	if !cfg.Interpreted {
		l.markCompiled(kind, p.SHA256, newCacheFiles(before, l.cacheFiles()))
	}
	return nil
}

// primePool makes the plugin's first instance, reads what the module says
// of itself after its initialization (ABI version, kind, memory size), and
// leaves the instance idle in the pool. It returns how long the
// instance's initialization took.
func (p *Plugin) primePool(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	inst, err := p.newInstance(ctx)
	if err != nil {
		return 0, err
	}
	initTime := time.Since(start)
	if err := p.checkVersion(ctx, inst); err != nil {
		inst.close()
		return 0, err
	}
	if p.Kind, err = readKind(ctx, inst); err != nil {
		inst.close()
		return 0, err
	}
	p.initialMemory = uint64(inst.mem.Size())
	p.retireAt = retireThreshold(inst.mem.Size(), p.cfg.MemoryLimit)
	p.pool.prime(inst)
	return initTime, nil
}

// checkDirs makes sure the granted folders exist; the engine mounts them.
// Without grants a guest has no file system at all (the engines' default).
func checkDirs(dirs []Dir) error {
	for _, d := range dirs {
		st, err := os.Stat(d.Host)
		if err != nil {
			return fmt.Errorf("dirs: %s = %s: %w", d.Guest, d.Host, unwrapPathError(err))
		}
		if !st.IsDir() {
			return fmt.Errorf("dirs: %s = %s: not a folder", d.Guest, d.Host)
		}
	}
	return nil
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
func checkImports(m compiledModule) error {
	known := map[string]bool{}
	for _, name := range abi.Imports {
		known[name] = true
	}
	for _, f := range m.importedFunctions() {
		mod, name := f.module, f.name
		switch {
		case mod == wasiModule:
		case mod == abi.ImportModule && known[name]:
		case mod == abi.ImportModule:
			return fmt.Errorf("imports %s.%s, which this host (ABI %d.%d) does not provide: the plugin needs a newer wasmhost",
				mod, name, abi.VersionMajor, abi.VersionMinor)
		default:
			return fmt.Errorf("imports %s.%s: wasmhost provides only the %q and %q modules",
				mod, name, abi.ImportModule, wasiModule)
		}
	}
	return nil
}

// checkExports makes sure the module is a reactor that speaks our ABI.
func checkExports(m compiledModule) error {
	ex := m.exportedFunctions()
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
	want := map[string][2][]valueType{
		abi.ExportHandle:     {{i32, i32}, {i32}},
		abi.ExportABIVersion: {nil, {i32}},
	}
	for name, sig := range want {
		f, ok := ex[name]
		if !ok {
			return fmt.Errorf("does not export %s", name)
		}
		if !slices.Equal(f.params, sig[0]) || !slices.Equal(f.results, sig[1]) {
			return fmt.Errorf("exports %s with the wrong signature %v", name, f)
		}
	}
	if f, ok := ex[abi.ExportKind]; ok && (len(f.params) != 0 || !slices.Equal(f.results, []valueType{i32})) {
		return fmt.Errorf("exports %s with the wrong signature %v", abi.ExportKind, f)
	}
	if !m.exportsMemory() {
		return fmt.Errorf("does not export its memory")
	}
	return nil
}

func (p *Plugin) checkVersion(ctx context.Context, inst *instance) error {
	var stack [1]uint64
	if err := inst.mod.function(abi.ExportABIVersion).CallWithStack(ctx, stack[:]); err != nil {
		return fmt.Errorf("%s: %w", abi.ExportABIVersion, err)
	}
	p.ABIMajor, p.ABIMinor = abi.UnpackVersion(uint32(stack[0]))
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
	if err := p.tenant.enter(ctx); err != nil {
		p.pool.release(inst)
		return p.countCtxError(err)
	}
	p.requests.Add(1)
	// The guest runs under a context of its own that ends CancelGrace
	// after a cancellation (grace.go): the host calls it makes see the
	// request's end at once, and it has that long to return.
	// A fresh callContext per call: wazero's interruption goroutine may
	// still read the context after the call returns.
	cc := newCallContext(ctx, inst, p.cfg.cancelGrace())
	inst.ex, inst.ctx = ex, cc
	stack := inst.stack[:]
	stack[0] = uint64(len(ex.Environ()))
	stack[1] = uint64(flags)
	err = inst.handle.CallWithStack(cc, stack)
	cc.release()
	p.tenant.leave()
	inst.stdout.flush()
	inst.stderr.flush()
	inst.ex, inst.ctx = nil, nil
	if err == nil && int32(uint32(stack[0])) == abi.HandleOK {
		size := inst.mem.Size()
		storeMax(&p.memHigh, uint64(size))
		if size > p.retireAt {
			p.pool.retired.Add(1)
			p.pool.discard(inst)
		} else {
			p.pool.release(inst)
		}
		if canceled(ctx) {
			// The guest saw the cancellation and returned within its
			// grace: its instance is as good as any, and the request is
			// a cancellation, not a failure of the guest.
			p.canceled.Add(1)
			return ErrCanceled
		}
		return nil
	}
	storeMax(&p.memHigh, uint64(inst.mem.Size()))
	// Counted before the discard, which may be what drains a closed
	// plugin: after Drained its counters are final.
	err = p.classify(ctx, cc, inst.mod, err)
	p.pool.discard(inst)
	return err
}

// classify names how a guest call that did not return HandleOK ended;
// ctx is the request's context, cc the call's.
func (p *Plugin) classify(ctx context.Context, cc *callContext, mod guestModule, err error) error {
	if err == nil {
		if canceled(ctx) {
			// A panic after the request was cancelled is most likely the
			// handler's reaction to it (net/http's idiom is to panic with
			// http.ErrAbortHandler when a write fails), so it counts as the
			// cancellation; the instance is discarded all the same, since
			// the host cannot tell that panic from any other.
			p.canceled.Add(1)
			return ErrCanceled
		}
		p.traps.Add(1) // a panic the SDK recovered is a trap to the operator
		return &GuestError{Kind: "panic", Message: "the handler panicked (its message is in the plugin's log)"}
	}
	kind, code := mod.failure(err)
	switch {
	case kind == failDeadline:
		p.timeouts.Add(1)
		return ErrTimeout
	case kind == failCanceled:
		p.canceled.Add(1)
		return ErrCanceled
	case kind == failExit:
		p.traps.Add(1)
		return &GuestError{Kind: "exit", Message: fmt.Sprintf(
			"the guest exited with code %d (a Go guest exits with 2 after an unrecovered panic or a fatal error such as running out of memory; see the plugin's log)",
			code)}
	case cc.Err() != nil:
		// wazero closed the module under the call, or wazy interrupted it
		// (its stopped call ends like a trap): the call's context says
		// which. A trap during the grace, with the call's context still
		// live, is the guest's own.
		return p.countCtxError(ctxError(cc.Err()))
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

// Drained reports whether the plugin is closed and its last instance gone:
// from then on its Stats no longer change.
func (p *Plugin) Drained() bool { return p.drained.Load() }

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
		Idle:            int64(p.pool.idleCount()),
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

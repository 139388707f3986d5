package loader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/loaderprobe"
)

// Options configure a Loader. The zero value is usable: no on-disk cache,
// logging discarded.
type Options struct {
	// CacheDir keeps compiled machine code across restarts ("" for none):
	// a standard-Go guest compiles in about a second, and loads from the
	// cache in tens of milliseconds. Each engine and engine version has its
	// own folder in it, <CacheDir>/<engine>-<version>, holding the engine's
	// cache and wasmhost's compiled markers and locks: a plain tree that a
	// pruner may trim like any cache.
	CacheDir string
	// CacheSize bounds the cache folder in bytes: after a module is
	// compiled into it, the entries used least recently are removed until
	// it fits (see internal/cachegc). 0 for no bound.
	CacheSize int64
	Logger    hclog.Logger
	// NoInterruption compiles guests without the checks that let a deadline
	// stop them, on wazero (wazy's cannot be turned off). Only for measuring
	// what those checks cost: without them a looping guest freezes the
	// process. Never set it in a server.
	NoInterruption bool
	// MaxRunning is how many guests may run at once before the scheduler
	// makes the rest wait (see scheduler); 0 means GOMAXPROCS.
	MaxRunning int
}

// Loader loads plugins. It owns what plugins share: each engine's
// compilation cache.
type Loader struct {
	opts Options
	log  hclog.Logger
	live atomic.Int64 // instances alive across every plugin, old versions included
	open atomic.Int64 // plugins loaded whose runtime is not closed yet
	// compiled holds the engine IDs and hashes ("wazero-v1.12.0/<sha>") of
	// modules compiled by this process.
	compiled sync.Map
	sched    *scheduler

	mu      sync.Mutex
	engines map[string]engine // by engine name, opened on first use
	// loading counts the loads in progress per engine, and closed says
	// Close was called: an engine with loads in progress is closed when
	// the last one ends (useEngine). A compile with one goroutine cannot
	// be interrupted, a shutdown may abandon it, and the engine's
	// in-memory state must outlive it (a wazero compile that finishes
	// after its engine's Close stores into a map Close set to nil).
	loading map[string]int
	closed  bool
}

// liveInstances counts the instances alive in every plugin this loader
// loaded, including versions replaced but still draining.
func (l *Loader) liveInstances() int64 { return l.live.Load() }

// openPlugins counts the plugins (versions) this loader loaded whose
// runtime is still open: a plugin's runtime closes after Close, once its
// last instance is gone.
func (l *Loader) openPlugins() int64 { return l.open.Load() }

// The counters are for the module's leak tests (package host's among
// them), through internal/loaderprobe.
func init() {
	loaderprobe.Set(
		func(l any) int64 { return l.(*Loader).liveInstances() },
		func(l any) int64 { return l.(*Loader).openPlugins() },
	)
}

// lockCompile serializes compiling one module across processes that share
// the on-disk cache: prefork workers swapping the same new .wasm take turns,
// and all but the first load the first one's machine code from the cache
// instead of compiling it again. Without a cache folder it does nothing.
// The wait for another process's compile ends with ctx (ctx's error), so
// that a shutdown does not wait for a compile it has no use for.
func (l *Loader) lockCompile(ctx context.Context, k engineKind, sha string) (unlock func(), err error) {
	if l.opts.CacheDir == "" {
		return func() {}, nil
	}
	dir := filepath.Join(l.engineDir(k), "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return func() {}, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, sha+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return func() {}, nil
	}
	if err := flockCtx(ctx, int(f.Fd())); err != nil {
		f.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return func() {}, nil
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// flockCtx takes an exclusive flock on fd, polling, since a blocking
// flock(2) cannot be interrupted; a compile lock is held for a second or
// so, so a few milliseconds of latency cost nothing.
func flockCtx(ctx context.Context, fd int) error {
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// New returns a Loader; with opts.CacheDir set it creates the cache folder.
func New(opts Options) (*Loader, error) {
	l := &Loader{opts: opts, log: opts.Logger, sched: newScheduler(opts.MaxRunning), engines: map[string]engine{}, loading: map[string]int{}}
	if l.log == nil {
		l.log = hclog.NewNullLogger()
	}
	if opts.CacheDir != "" {
		if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("compilation cache: %w", err)
		}
		l.pruneCache() // the bound may have shrunk since the last run
	}
	return l, nil
}

// engine returns the loader's engine of that kind, opening it (and its
// cache) on first use, so a site that uses one engine never touches the
// other's cache.
func (l *Loader) engine(k engineKind) (engine, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.engines[k.name]; e != nil {
		return e, nil
	}
	dir := ""
	if l.opts.CacheDir != "" {
		dir = l.engineDir(k)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("compilation cache: %w", err)
		}
	}
	e, err := k.open(dir, l.opts)
	if err != nil {
		return nil, fmt.Errorf("compilation cache %s: %w", dir, err)
	}
	l.engines[k.name] = e
	return e, nil
}

// useEngine is engine for a load or a compile: done must be called when
// it no longer uses the engine, which Close leaves open until then.
func (l *Loader) useEngine(k engineKind) (e engine, done func(), err error) {
	e, err = l.engine(k)
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, nil, errors.New("the loader is closed")
	}
	l.loading[k.name]++
	return e, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.loading[k.name]--; l.loading[k.name] == 0 && l.closed {
			e.close(context.Background())
		}
	}, nil
}

// engineDir is the cache folder of one engine version.
func (l *Loader) engineDir(k engineKind) string {
	return filepath.Join(l.opts.CacheDir, k.id())
}

// Close releases the in-memory part of the compilation caches. Plugins are
// closed by their owners, before. An engine still loading (a background
// compile that a shutdown abandoned) is closed when that load ends.
func (l *Loader) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	var errs []error
	for name, e := range l.engines {
		if l.loading[name] == 0 {
			errs = append(errs, e.close(ctx))
		}
	}
	return errors.Join(errs...)
}

// DefaultCacheDir is where compiled code is cached unless configured:
// the user's cache folder ($XDG_CACHE_HOME or ~/.cache on Linux).
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "wasmhost", "compiled"), nil
}

// compileWorkers is how many goroutines compile one module. Compiling is
// rare and a request never waits for it, so it may use every core.
var compileWorkers = runtime.NumCPU()

// Precompile compiles a module with an engine ("" for the default) into
// its compilation cache without loading it as a plugin, so that the next
// Load of the same bytes (a server's hot swap, a restart) finds its machine
// code ready. It checks nothing beyond what compiling checks.
func (l *Loader) Precompile(ctx context.Context, engineName, path string) error {
	k, err := findEngine(engineName)
	if err != nil {
		return err
	}
	e, done, err := l.useEngine(k)
	if err != nil {
		return err
	}
	defer done()
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	unlock, err := l.lockCompile(ctx, k, sha)
	if err != nil {
		return err
	}
	defer unlock()
	rt, err := e.newRuntime(ctx, runtimeOptions{})
	if err != nil {
		return err
	}
	defer rt.close(ctx)
	before := l.cacheFiles()
	logged := l.logCompile(l.log, k, sha, len(wasm), false)
	m, err := rt.compile(ctx, wasm, compileWorkers, moduleOptions{})
	if logged(err); err != nil {
		return err
	}
	m.close(ctx) // the machine code is in the cache; this process needs none of it
	l.markCompiled(k, sha, newCacheFiles(before, l.cacheFiles()))
	return nil
}

// Compiled reports whether machine code for the module with this SHA-256
// is known to be in an engine's ("" for the default) compilation cache
// (compiled by this process, or by any process sharing the cache folder),
// so loading it will not compile.
func (l *Loader) Compiled(engineName, sha string) bool {
	k, err := findEngine(engineName)
	if err != nil {
		return false
	}
	if _, ok := l.compiled.Load(k.id() + "/" + sha); ok {
		return true
	}
	if l.opts.CacheDir == "" {
		return false
	}
	return l.cached(k, sha)
}

// markCompiled records that a module's machine code is cached. The
// engines' caches have no query, so wasmhost keeps its own marker per
// engine version and module hash, next to that engine's cache, listing the
// cache files written (added) when it compiled (see cacheuse.go); a compile
// served from the cache adds none and keeps the marker's list. Then the
// cache is pruned to its size.
func (l *Loader) markCompiled(k engineKind, sha string, added []string) {
	l.compiled.Store(k.id()+"/"+sha, true)
	if l.opts.CacheDir == "" {
		return
	}
	dir := l.markerDir(k)
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	marker := filepath.Join(dir, sha)
	if _, err := os.Stat(marker); err != nil || len(added) > 0 {
		os.WriteFile(marker, []byte(strings.Join(added, "\n")), 0o600)
	}
	l.touchCached(k, sha)
	if len(added) > 0 {
		l.pruneCache()
	}
}

// compileProgressEvery is how often a compilation still running says so.
var compileProgressEvery = 5 * time.Second

// logCompile announces a compilation to machine code that is not in the
// cache, says every compileProgressEvery that it is still running (the
// engines report no progress), and returns the function that logs its end
// with the time it took. A standard-Go module of 2 MB compiles in about a
// second, one of 25-45 MB (a gin application) in 15-30 s on two cores:
// without these lines a server sits silent that long. A cached or
// interpreted module is a debug line only.
func (l *Loader) logCompile(log hclog.Logger, k engineKind, sha string, size int, interpreted bool) func(error) {
	if interpreted || l.cached(k, sha) {
		return func(error) {}
	}
	start := time.Now()
	mb := fmt.Sprintf("%.1f MB", float64(size)/1e6)
	log.Info("compiling to machine code", "engine", k.name, "module_size", mb)
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(compileProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				log.Info("still compiling", "engine", k.name, "module_size", mb, "elapsed", time.Since(start).Round(time.Second))
			}
		}
	}()
	return func(err error) {
		close(stop)
		took := time.Since(start).Round(time.Millisecond)
		if err != nil {
			log.Warn("compiling failed", "module_size", mb, "took", took, "error", err)
			return
		}
		log.Info("compiled", "engine", k.name, "module_size", mb, "took", took)
	}
}

// InterpretBelow is the largest module a hot swap serves interpreted while
// it compiles. Below it compiling takes a few seconds and the interpreter
// covers them; above it the old version keeps serving until the new one is
// compiled. Measured on two cores with a 26 MB gin plugin: compiled 5,300
// req/s; interpreted 12-1,500 req/s (most often a few hundred) for the 89 s
// its background compile (one goroutine) took beside that load, after
// 4.9 s to load it interpreted; compiled with both cores, 14.5 s.
// A 2 MB standard-Go plugin compiles in about a second.
const InterpretBelow = 16_000_000

// InterpretWhileCompiling reports whether a hot swap to a module of this
// size, not yet compiled, should serve it interpreted meanwhile (small
// modules) rather than keep the old version until it is compiled.
func InterpretWhileCompiling(size int64) bool { return size < InterpretBelow }

package loader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmhost/wasmhost/internal/version"
)

// Options configure a Loader. The zero value is usable: no on-disk cache,
// logging discarded.
type Options struct {
	// CacheDir keeps compiled machine code across restarts ("" for none):
	// a standard-Go guest compiles in about a second, and loads from the
	// cache in tens of milliseconds.
	CacheDir string
	// CacheSize bounds the cache folder in bytes: after a module is
	// compiled into it, the entries used least recently are removed until
	// it fits (see internal/cachegc). 0 for no bound.
	CacheSize int64
	Logger    hclog.Logger
	// NoInterruption compiles guests without the checks that let a deadline
	// stop them. Only for measuring what those checks cost: without them a
	// looping guest freezes the process. Never set it in a server.
	NoInterruption bool
	// MaxRunning is how many guests may run at once before the scheduler
	// makes the rest wait (see scheduler); 0 means GOMAXPROCS.
	MaxRunning int
}

// Loader loads plugins. It owns what plugins share: the compilation cache.
type Loader struct {
	opts  Options
	log   hclog.Logger
	cache wazero.CompilationCache
	live  atomic.Int64 // instances alive across every plugin, old versions included
	open  atomic.Int64 // plugins loaded whose runtime is not closed yet
	// compiled holds the hashes of modules compiled by this process.
	compiled sync.Map
	sched    *scheduler
}

// LiveInstances counts the instances alive in every plugin this loader
// loaded, including versions replaced but still draining.
func (l *Loader) LiveInstances() int64 { return l.live.Load() }

// OpenPlugins counts the plugins (versions) this loader loaded whose
// runtime is still open: a plugin's runtime closes after Close, once its
// last instance is gone.
func (l *Loader) OpenPlugins() int64 { return l.open.Load() }

// lockCompile serializes compiling one module across processes that share
// the on-disk cache: prefork workers swapping the same new .wasm take turns,
// and all but the first load the first one's machine code from the cache
// instead of compiling it again. Without a cache folder it does nothing.
func (l *Loader) lockCompile(sha string) (unlock func()) {
	if l.opts.CacheDir == "" {
		return func() {}
	}
	dir := filepath.Join(l.opts.CacheDir, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return func() {}
	}
	f, err := os.OpenFile(filepath.Join(dir, sha+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// New returns a Loader; with opts.CacheDir set it creates the cache folder.
func New(opts Options) (*Loader, error) {
	l := &Loader{opts: opts, log: opts.Logger, sched: newScheduler(opts.MaxRunning)}
	if l.log == nil {
		l.log = hclog.NewNullLogger()
	}
	if opts.CacheDir != "" {
		if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("compilation cache: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", opts.CacheDir, err)
		}
		l.cache = c
		l.pruneCache() // the bound may have shrunk since the last run
	} else {
		l.cache = wazero.NewCompilationCache()
	}
	return l, nil
}

// Close releases the in-memory part of the compilation cache. Plugins are
// closed by their owners, before.
func (l *Loader) Close(ctx context.Context) error { return l.cache.Close(ctx) }

// DefaultCacheDir is where compiled code is cached unless configured:
// the user's cache folder ($XDG_CACHE_HOME or ~/.cache on Linux).
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "wasmhost", "compiled"), nil
}

func (l *Loader) runtimeConfig(memoryLimit int64, interpreted bool) wazero.RuntimeConfig {
	var cfg wazero.RuntimeConfig
	if interpreted {
		cfg = wazero.NewRuntimeConfigInterpreter()
	} else {
		cfg = wazero.NewRuntimeConfigCompiler().WithCompilationCache(l.cache)
	}
	cfg = cfg.WithCloseOnContextDone(!l.opts.NoInterruption)
	if memoryLimit > 0 {
		pages := (memoryLimit + 65535) / 65536
		if pages > 65536 {
			pages = 65536
		}
		cfg = cfg.WithMemoryLimitPages(uint32(pages))
	}
	return cfg
}

// compileWorkers is how many goroutines compile one module. Compiling is
// rare and a request never waits for it, so it may use every core.
var compileWorkers = runtime.NumCPU()

// Precompile compiles a module into the compilation cache without loading
// it as a plugin, so that the next Load of the same bytes (a server's hot
// swap, a restart) finds its machine code ready. It checks nothing beyond
// what compiling checks.
func (l *Loader) Precompile(ctx context.Context, path string) error {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(wasm)
	unlock := l.lockCompile(hex.EncodeToString(sum[:]))
	defer unlock()
	rt := wazero.NewRuntimeWithConfig(ctx, l.runtimeConfig(0, false))
	defer rt.Close(ctx)
	before := l.cacheFiles()
	if _, err = rt.CompileModule(experimental.WithCompilationWorkers(ctx, compileWorkers), wasm); err != nil {
		return err
	}
	l.markCompiled(hex.EncodeToString(sum[:]), newCacheFiles(before, l.cacheFiles()))
	return nil
}

// Compiled reports whether machine code for the module with this SHA-256
// is known to be in the compilation cache (compiled by this process, or by
// any process sharing the cache folder), so loading it will not compile.
func (l *Loader) Compiled(sha string) bool {
	if _, ok := l.compiled.Load(sha); ok {
		return true
	}
	if l.opts.CacheDir == "" {
		return false
	}
	return l.cached(sha)
}

// markerDir holds the markers of one wazero version, whose machine code
// the cache holds apart from other versions'.
func (l *Loader) markerDir() string {
	return filepath.Join(l.opts.CacheDir, "compiled-"+version.Wazero())
}

// markCompiled records that a module's machine code is cached. wazero's
// cache has no query, so wasmhost keeps its own marker per module hash,
// listing the cache files written (added) when it compiled (see
// cacheuse.go); a compile served from the cache adds none and keeps the
// marker's list. Then the cache is pruned to its size.
func (l *Loader) markCompiled(sha string, added []string) {
	l.compiled.Store(sha, true)
	if l.opts.CacheDir == "" {
		return
	}
	dir := l.markerDir()
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	marker := filepath.Join(dir, sha)
	if _, err := os.Stat(marker); err != nil || len(added) > 0 {
		os.WriteFile(marker, []byte(strings.Join(added, "\n")), 0o600)
	}
	l.touchCached(sha)
	if len(added) > 0 {
		l.pruneCache()
	}
}

// Package devbuild rebuilds plugins from their Go sources while the server
// runs (site.hcl `source`, under debug): Tornado's autoreload, for a
// compiled language.
//
// A Builder owns one plugin. At start it builds when the .wasm is missing
// or older than its sources; then it watches the package's Go files, the
// module's go.mod and go.sum and the embedded files, and rebuilds when they
// change: debounced, since an editor's save is several events, and one
// build at a time (an edit during a build causes one more build after it,
// not a second compiler). A build writes the .wasm by renaming a complete
// file over it, so the server's ordinary .wasm watcher (autoreload) swaps
// it in; the Builder itself never touches the running server. What it
// reports is the outcome: nil, or a *CompileError with the compiler's
// messages, which the caller shows on the plugin's requests.
package devbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/build"
)

// DefaultDebounce is how long the sources must be quiet before a rebuild.
const DefaultDebounce = 100 * time.Millisecond

// CompileError is a build that failed; Output is what the compiler said
// (file:line:column: message lines, paths relative to the package).
type CompileError struct {
	Plugin string
	Output string
	Err    error
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("plugin %s does not build: %v\n%s", e.Plugin, e.Err, strings.TrimSpace(e.Output))
}

func (e *CompileError) Unwrap() error { return e.Err }

// Builder builds and rebuilds one plugin.
type Builder struct {
	Name    string        // the plugin's name, for messages
	Options build.Options // PkgDir and Output at least
	Log     hclog.Logger
	// OnResult, if set, gets every watched rebuild's outcome: nil or a
	// *CompileError (or another error, when the build could not run).
	OnResult func(error)
	Debounce time.Duration // 0 → DefaultDebounce

	mu      sync.Mutex
	running bool // a build is in progress
	pending bool // sources changed during it
	timer   *time.Timer
	closed  bool
}

// Build builds the plugin once.
func (b *Builder) Build(ctx context.Context) error {
	var out bytes.Buffer
	opt := b.Options
	opt.Stdout, opt.Stderr = &out, &out
	start := time.Now()
	_, err := build.Build(ctx, opt)
	if err != nil {
		return &CompileError{Plugin: b.Name, Output: out.String(), Err: err}
	}
	b.log().Info("plugin built from source", "source", opt.PkgDir, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// BuildIfStale builds the plugin when its .wasm is missing or older than
// its sources.
func (b *Builder) BuildIfStale(ctx context.Context) error {
	src, err := FindSources(ctx, b.Options.PkgDir)
	if err != nil {
		return err
	}
	stale, err := Stale(src, b.output())
	if err != nil || !stale {
		return err
	}
	return b.Build(ctx)
}

func (b *Builder) output() string {
	if b.Options.Output != "" {
		return b.Options.Output
	}
	return build.DefaultOutput(b.Options.PkgDir)
}

func (b *Builder) log() hclog.Logger {
	if b.Log == nil {
		return hclog.NewNullLogger()
	}
	return b.Log
}

// Watch rebuilds on every change of the sources until ctx ends.
func (b *Builder) Watch(ctx context.Context) error {
	src, err := FindSources(ctx, b.Options.PkgDir)
	if err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	for _, d := range src.Dirs() {
		if err := w.Add(d); err != nil {
			w.Close()
			return fmt.Errorf("watch %s: %w", d, err)
		}
	}
	go func() {
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				b.mu.Lock()
				b.closed = true
				if b.timer != nil {
					b.timer.Stop()
				}
				b.mu.Unlock()
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if src.Relevant(ev.Name) {
					b.changed(ctx)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				b.log().Warn("watching the sources", "error", err)
			}
		}
	}()
	return nil
}

// changed schedules a rebuild after the debounce.
func (b *Builder) changed(ctx context.Context) {
	d := b.Debounce
	if d <= 0 {
		d = DefaultDebounce
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	b.timer = time.AfterFunc(d, func() { b.rebuild(ctx) })
}

// rebuild runs builds until no change arrived during the last one.
func (b *Builder) rebuild(ctx context.Context) {
	b.mu.Lock()
	if b.running {
		b.pending = true
		b.mu.Unlock()
		return
	}
	b.running = true
	b.mu.Unlock()
	for {
		err := b.Build(ctx)
		var ce *CompileError
		if errors.As(err, &ce) {
			b.log().Error("plugin source does not compile; its requests get the compiler's messages", "source", b.Options.PkgDir, "output", strings.TrimSpace(ce.Output))
		}
		if ctx.Err() != nil {
			break
		}
		if b.OnResult != nil {
			b.OnResult(err)
		}
		b.mu.Lock()
		if !b.pending {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.pending = false
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.running = false
	b.mu.Unlock()
}

package loader

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"
)

// Watcher calls a function when a file changes, however it changes: written
// in place, renamed over (what `wasmhost build`, editors and deploy tools do),
// or deleted and created again. It watches each file's folder, not the
// file, because a watch on a file follows the inode that a rename replaces.
// Events for one file are debounced: a build writes many times, and only the
// settled file matters. Whether the content really changed is the caller's
// question (a content hash), since a touch or a rewrite of the same bytes
// also produces events.
type Watcher struct {
	fs       *fsnotify.Watcher
	log      hclog.Logger
	debounce time.Duration

	mu     sync.Mutex
	files  map[string]func() // absolute path → callback
	dirs   map[string]int    // watched folder → number of files in it
	timers map[string]*time.Timer
	done   chan struct{}
}

// NewWatcher starts a watcher; debounce is how long a file must be quiet
// before its callback runs.
func NewWatcher(log hclog.Logger, debounce time.Duration) (*Watcher, error) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	w := &Watcher{
		fs: fs, log: log, debounce: debounce,
		files: map[string]func(){}, dirs: map[string]int{}, timers: map[string]*time.Timer{},
		done: make(chan struct{}),
	}
	go w.run()
	return w, nil
}

// Watch calls onChange (on its own goroutine, never twice at once for one
// file) after path changes. Watching a path again replaces its callback.
func (w *Watcher) Watch(path string, onChange func()) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.files[path]; !ok {
		dir := filepath.Dir(path)
		if w.dirs[dir] == 0 {
			if err := w.fs.Add(dir); err != nil {
				return err
			}
		}
		w.dirs[dir]++
	}
	var mu sync.Mutex // serializes this file's callbacks
	w.files[path] = func() {
		mu.Lock()
		defer mu.Unlock()
		onChange()
	}
	return nil
}

// Unwatch stops watching path.
func (w *Watcher) Unwatch(path string) {
	path, _ = filepath.Abs(path)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.files[path]; !ok {
		return
	}
	delete(w.files, path)
	if t := w.timers[path]; t != nil {
		t.Stop()
		delete(w.timers, path)
	}
	dir := filepath.Dir(path)
	if w.dirs[dir]--; w.dirs[dir] == 0 {
		delete(w.dirs, dir)
		w.fs.Remove(dir)
	}
}

// Close stops the watcher; pending callbacks are dropped.
func (w *Watcher) Close() error {
	w.mu.Lock()
	for p, t := range w.timers {
		t.Stop()
		delete(w.timers, p)
	}
	w.mu.Unlock()
	err := w.fs.Close()
	<-w.done
	return err
}

func (w *Watcher) run() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.event(ev.Name)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.log.Warn("file watch error", "error", err)
		}
	}
}

func (w *Watcher) event(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cb, ok := w.files[name]
	if !ok {
		return // another file in a watched folder: temp files, other plugins' neighbours
	}
	if t := w.timers[name]; t != nil {
		t.Reset(w.debounce)
		return
	}
	w.timers[name] = time.AfterFunc(w.debounce, func() {
		w.mu.Lock()
		delete(w.timers, name)
		_, still := w.files[name]
		w.mu.Unlock()
		if !still {
			return
		}
		if _, err := os.Stat(name); err != nil {
			// Deleted, perhaps to be created again: its Create will call.
			w.log.Info("watched file is gone; keeping the loaded version", "path", name)
			return
		}
		cb()
	})
}

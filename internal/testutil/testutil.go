// Package testutil builds the plugins and binaries that tests run for real.
//
// Plugins are built where site.hcl files expect them (next to their source,
// e.g. plugins/examples/hello/hello.wasm; *.wasm is ignored by git), once per
// test process, under a file lock so that test packages running in parallel
// do not write the same file at once. The go command's build cache makes a
// rebuild of an unchanged plugin cheap.
package testutil

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/build"
)

// Root is the repository's top folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// Plugin builds the handler package in dir (relative to Root) and returns
// the path of its .wasm.
func Plugin(t testing.TB, dir string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[dir]; ok {
		return p
	}
	unlock := lockFile(t, filepath.Join(Root(), dir, ".build.lock"))
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := build.Build(ctx, build.Options{PkgDir: filepath.Join(Root(), dir), Stdout: os.Stderr, Stderr: os.Stderr})
	if err != nil {
		t.Fatalf("build plugin %s: %v", dir, err)
	}
	built[dir] = out
	return out
}

// Binary builds cmd/wasmhost into a temporary folder and returns its path.
// ldflags are passed to go build (e.g. to set the version).
func Binary(t testing.TB, ldflags string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "wasmhost")
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", out, "./cmd/wasmhost")
	cmd.Dir = Root()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build wasmhost: %v\n%s", err, b)
	}
	return out
}

func lockFile(t testing.TB, path string) func() {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("lock %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// CacheDir is a compilation cache shared by test processes, so each test
// package does not pay wazero's full compile cost for the same plugins.
// Sharing is safe: entries are keyed by the module's content. A test that
// needs a module compiled afresh (a cold swap) uses a folder of its own.
func CacheDir(t testing.TB) string {
	dir := filepath.Join(os.TempDir(), "wasmhost-test-cache")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	processDirsMu sync.Mutex
	processDirs   = map[string]string{}
)

// processDir is a folder named prefix-PID in the temporary folder, made
// once per test process. Folders of earlier test processes that are gone
// are removed first, so leftovers do not pile up.
func processDir(t testing.TB, prefix string) string {
	processDirsMu.Lock()
	defer processDirsMu.Unlock()
	if dir, ok := processDirs[prefix]; ok {
		return dir
	}
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"-*"))
	for _, d := range old {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), prefix+"-"))
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("%s-%d", prefix, os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	processDirs[prefix] = dir
	return dir
}

// PluginVariant builds the handler package in dir with -ldflags ldflags
// (e.g. "-X main.version=2") to a file of its own, once per test process,
// and returns its path: two variants of one plugin for swap tests.
func PluginVariant(t testing.TB, dir, ldflags string) string {
	t.Helper()
	key := dir + "\x00" + ldflags
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[key]; ok {
		return p
	}
	sum := sha256.Sum256([]byte(key))
	outDir := processDir(t, "wasmhost-test-variants")
	out := filepath.Join(outDir, hex.EncodeToString(sum[:8])+".wasm")
	unlock := lockFile(t, out+".lock")
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := build.Build(ctx, build.Options{PkgDir: filepath.Join(Root(), dir), Output: out, LDFlags: ldflags, Stderr: os.Stderr}); err != nil {
		t.Fatalf("build plugin %s (%s): %v", dir, ldflags, err)
	}
	built[key] = out
	return out
}

// CopyFile writes src's content to dst by writing a temporary file next
// to dst and renaming it over dst, the way deploy tools replace a file.
func CopyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

package loader

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader/internal/wazygen"
)

func TestUnknownEngineIsRefused(t *testing.T) {
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	_, err = l.Load(context.Background(), Config{Name: "x", Path: testutil.Plugin(t, "plugins/examples/hello"), Engine: "v8"})
	if err == nil || !strings.Contains(err.Error(), `unknown engine "v8"`) || !strings.Contains(err.Error(), "wazero, wazy") {
		t.Errorf("engine v8: %v, want an error listing the engines", err)
	}
}

// TestCachesKeptApartPerEngine: each engine version has its own folder in
// the cache, and machine code compiled by one does not count as compiled
// for the other.
func TestCachesKeptApartPerEngine(t *testing.T) {
	dir := t.TempDir()
	l, err := New(Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	path := testutil.Plugin(t, "plugins/examples/hello")
	p, err := l.Load(context.Background(), Config{Name: "hello", Path: path, Engine: EngineWazy})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if p.Engine != EngineWazy {
		t.Errorf("Engine = %q", p.Engine)
	}
	if !l.Compiled(EngineWazy, p.SHA256) || l.Compiled(EngineWazero, p.SHA256) {
		t.Errorf("compiled on wazy: Compiled(wazy) %v, Compiled(wazero) %v; want true, false",
			l.Compiled(EngineWazy, p.SHA256), l.Compiled(EngineWazero, p.SHA256))
	}
	k, _ := findEngine(EngineWazy)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != k.id() {
		t.Errorf("cache folder holds %v, want only %s", entries, k.id())
	}
	if _, err := os.Stat(filepath.Join(dir, k.id(), "compiled", p.SHA256)); err != nil {
		t.Errorf("no compiled marker in the engine's folder: %v", err)
	}
	// A second loader (another process) sees the marker.
	l2, _ := New(Options{CacheDir: dir})
	defer l2.Close(context.Background())
	if !l2.Compiled(EngineWazy, p.SHA256) {
		t.Errorf("a loader sharing the cache does not see wazy's marker")
	}
}

// TestWazyAdapterIsGenerated: engine_wazy.go is engine_wazero.go through
// wazygen, so the two adapters cannot drift apart (run go generate
// ./loader after changing engine_wazero.go).
func TestWazyAdapterIsGenerated(t *testing.T) {
	src, err := os.ReadFile("engine_wazero.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := wazygen.Generate("engine_wazero.go", src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("engine_wazy.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("engine_wazy.go is not engine_wazero.go through wazygen: run go generate ./loader")
	}
}

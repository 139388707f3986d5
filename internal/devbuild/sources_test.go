package devbuild

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func write(t *testing.T, path, text string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestSourcesRelevantAndStale(t *testing.T) {
	mod := t.TempDir()
	pkg := filepath.Join(mod, "p")
	old := time.Now().Add(-2 * time.Hour)
	write(t, filepath.Join(mod, "go.mod"), "module m\n\ngo 1.21\n", old)
	write(t, filepath.Join(pkg, "main.go"), "package main\n\nimport _ \"embed\"\n\n//go:embed page.html\nvar page string\n\nfunc main() {}\n", old)
	write(t, filepath.Join(pkg, "page.html"), "<p>hi</p>\n", old)
	write(t, filepath.Join(pkg, "main_test.go"), "package main\n", old)
	wasm := filepath.Join(pkg, "p.wasm")

	src, err := FindSources(context.Background(), pkg)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		filepath.Join(pkg, "main.go"):            true,
		filepath.Join(pkg, "new.go"):             true, // created later: still a source
		filepath.Join(pkg, "page.html"):          true, // embedded
		filepath.Join(pkg, "main_test.go"):       false,
		filepath.Join(pkg, "p.wasm"):             false,
		filepath.Join(pkg, ".p.wasm.building-1"): false,
		filepath.Join(mod, "go.mod"):             true,
		filepath.Join(mod, "go.sum"):             true,
		filepath.Join(mod, "other.go"):           false, // another package
	} {
		if got := src.Relevant(path); got != want {
			t.Errorf("Relevant(%s) = %v, want %v", path, got, want)
		}
	}

	if stale, err := Stale(src, wasm); err != nil || !stale {
		t.Errorf("missing .wasm: Stale = %v, %v; want true", stale, err)
	}
	write(t, wasm, "\x00asm", old.Add(time.Hour))
	if stale, err := Stale(src, wasm); err != nil || stale {
		t.Errorf("fresh .wasm: Stale = %v, %v; want false", stale, err)
	}
	// A test file does not make it stale; an embedded file does.
	write(t, filepath.Join(pkg, "main_test.go"), "package main\n", time.Now())
	if stale, _ := Stale(src, wasm); stale {
		t.Error("a newer _test.go made the plugin stale")
	}
	write(t, filepath.Join(pkg, "page.html"), "<p>hello</p>\n", time.Now())
	if stale, _ := Stale(src, wasm); !stale {
		t.Error("a newer embedded file did not make the plugin stale")
	}
}

//go:build !wasip1

package abi

import (
	"bytes"
	"io/fs"
	"testing"
)

// Source is what `wasmhost new` writes beside a plugin: it must hold the
// module's go.mod and every non-test Go file, or the plugin will not build.
func TestSourceHoldsTheModule(t *testing.T) {
	for _, name := range []string{"go.mod", "abi.go", "environ.go", "middleware.go", "services.go"} {
		b, err := fs.ReadFile(Source, name)
		if err != nil || len(b) == 0 {
			t.Errorf("Source lacks %s: %v", name, err)
		}
	}
	mod, _ := fs.ReadFile(Source, "go.mod")
	if !bytes.Contains(mod, []byte("module github.com/wasmhost/wasmhost/abi\n")) {
		t.Errorf("embedded go.mod names another module:\n%s", mod)
	}
}

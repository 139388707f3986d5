package loader

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// execBytes sums this process's anonymous executable mappings: where the
// engines put machine code.
func execBytes(t *testing.T) int64 {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || !strings.Contains(fields[1], "x") || len(fields) > 5 && fields[5] != "" {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		a, _ := strconv.ParseUint(lo, 16, 64)
		b, _ := strconv.ParseUint(hi, 16, 64)
		n += int64(b - a)
	}
	return n
}

// withTag appends a custom section to a module: the same code, a distinct
// build (another module ID, another cache entry, its own machine code).
func withTag(wasm []byte, tag string) []byte {
	name := "build"
	payload := append([]byte{byte(len(name))}, name...)
	payload = append(payload, tag...)
	out := append([]byte{}, wasm...)
	out = append(out, 0x00, byte(len(payload)))
	return append(out, payload...)
}

// TestClosedVersionsFreeTheirMachineCode: a plugin swapped six times, each
// old version closed, holds one version's machine code, not six. The
// engines keep compiled modules in the engine that all runtimes of a
// loader share; closing a runtime alone left every old version's code
// mapped for the life of the process (a gin plugin's worker grew by
// hundreds of MB per swap).
func TestClosedVersionsFreeTheirMachineCode(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles six builds of a standard-Go plugin")
	}
	src, err := os.ReadFile(testutil.Plugin(t, "plugins/examples/hello"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	dir := t.TempDir()
	load := func(i int) *Plugin {
		path := filepath.Join(dir, fmt.Sprintf("v%d.wasm", i))
		if err := os.WriteFile(path, withTag(src, fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := l.Load(context.Background(), Config{Name: "hello", Path: path, Instances: 2})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := execBytes(t)
	cur := load(0)
	one := execBytes(t) - base
	for i := 1; i < 6; i++ {
		next := load(i)
		cur.Close()
		cur = next
	}
	defer cur.Close()
	if n := l.openPlugins(); n != 1 {
		t.Errorf("%d plugin versions open after five swaps, want 1", n)
	}
	// The engines unmap machine code in a finalizer, after a GC.
	var held int64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		runtime.GC()
		if held = execBytes(t) - base; held <= 2*one {
			return
		}
	}
	t.Errorf("after five swaps %d MB of machine code is mapped; one version is %d MB", held>>20, one>>20)
}

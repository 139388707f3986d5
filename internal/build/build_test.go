package build

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmhost/wasmhost/abi"
)

func TestBuildHello(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a wasm module")
	}
	out := filepath.Join(t.TempDir(), "hello.wasm")
	var stderr bytes.Buffer
	got, err := Build(context.Background(), Options{
		PkgDir: filepath.Join("..", "..", "plugins", "examples", "hello"),
		Output: out,
		Stderr: &stderr,
	})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, stderr.String())
	}
	if got != out {
		t.Errorf("Build returned %q, want %q", got, out)
	}
	code, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(code, []byte("\x00asm")) {
		t.Fatalf("output does not start with the wasm magic: % x", code[:min(8, len(code))])
	}

	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, code)
	if err != nil {
		t.Fatalf("CompileModule: %v", err)
	}
	exports := cm.ExportedFunctions()
	for _, name := range []string{abi.ExportHandle, abi.ExportABIVersion, abi.ExportInitialize} {
		if _, ok := exports[name]; !ok {
			t.Errorf("module does not export %s", name)
		}
	}
	for _, f := range cm.ImportedFunctions() {
		if mod, name, _ := f.Import(); mod == abi.ImportModule && !contains(abi.Imports, name) {
			t.Errorf("module imports %s.%s, which ABI %d.%d lacks", mod, name, abi.VersionMajor, abi.VersionMinor)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestBuildDefaultOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a wasm module")
	}
	// A throwaway copy of hello, so the default output lands in a temp dir.
	dir := filepath.Join(t.TempDir(), "greeter")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "plugins", "examples", "hello", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	// The copy gets its own module that requires only the SDK (and the ABI
	// it needs), from this repository's folders: none of the host's
	// dependencies, no go.sum.
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gomod := "module example.com/greeter\n\ngo 1.21\n\n" +
		"require (\n\tgithub.com/wasmhost/wasmhost/sdk v1.3.0\n\tgithub.com/wasmhost/wasmhost/abi v1.3.0\n)\n\n" +
		"replace github.com/wasmhost/wasmhost/sdk => " + filepath.Join(repo, "sdk") + "\n" +
		"replace github.com/wasmhost/wasmhost/abi => " + filepath.Join(repo, "abi") + "\n"
	writeFile(t, filepath.Join(dir, "go.mod"), gomod)
	writeFile(t, filepath.Join(dir, "main.go"), string(src))

	var stderr bytes.Buffer
	got, err := Build(context.Background(), Options{PkgDir: dir, Stderr: &stderr})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, stderr.String())
	}
	if want := filepath.Join(dir, "greeter.wasm"); got != want {
		t.Errorf("Build returned %q, want %q", got, want)
	}
	if _, err := os.Stat(got); err != nil {
		t.Error(err)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBuildErrors(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file.go")
	writeFile(t, file, "package main\n")
	empty := filepath.Join(tmp, "empty")
	onlyTests := filepath.Join(tmp, "onlytests")
	broken := filepath.Join(tmp, "broken")
	for _, d := range []string{empty, onlyTests, broken} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(onlyTests, "x_test.go"), "package main\n")
	writeFile(t, filepath.Join(broken, "go.mod"), "module broken\n\ngo 1.24\n")
	writeFile(t, filepath.Join(broken, "main.go"), "package main\n\nfunc main() { undefinedThing() }\n")

	cases := []struct {
		name, dir, want string
		stderr          string
	}{
		{"missing", filepath.Join(tmp, "nope"), "build " + filepath.Join(tmp, "nope") + ": no such folder", ""},
		{"file", file, "build " + file + ": not a folder", ""},
		{"empty", empty, "build " + empty + ": no Go source files", ""},
		{"only tests", onlyTests, "build " + onlyTests + ": no Go source files", ""},
		{"compile error", broken, "build " + broken + ": exit status 1", "undefinedThing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, err := Build(context.Background(), Options{PkgDir: c.dir, Output: filepath.Join(tmp, "out.wasm"), Stderr: &stderr})
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error %v, want one starting with %q", err, c.want)
			}
			if !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("compiler output %q does not mention %q", stderr.String(), c.stderr)
			}
		})
	}
}

func TestBuildMissingTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := filepath.Join("..", "..", "plugins", "examples", "hello")

	_, err := Build(context.Background(), Options{PkgDir: dir, TinyGo: true})
	if err == nil || !strings.Contains(err.Error(), "tinygo not found") || !strings.Contains(err.Error(), "tinygo.org") {
		t.Errorf("TinyGo missing: error %v, want one saying so and how to install it", err)
	}
	_, err = Build(context.Background(), Options{PkgDir: dir})
	if err == nil || !strings.Contains(err.Error(), "go command was not found") {
		t.Errorf("go missing: error %v", err)
	}
}

func TestBuildWithoutHandlerFails(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a wasm module")
	}
	out := filepath.Join(t.TempDir(), "nohandler.wasm")
	var stderr bytes.Buffer
	_, err := Build(context.Background(), Options{PkgDir: filepath.Join("testdata", "nohandler"), Output: out, Stderr: &stderr})
	if !errors.Is(err, ErrNoHandler) {
		t.Fatalf("Build of a package without sdk.Handle: err = %v, want ErrNoHandler\n%s", err, stderr.String())
	}
	if !strings.Contains(err.Error(), "sdk.Handle") || !strings.Contains(err.Error(), "nohandler") {
		t.Errorf("error %q should name the package and sdk.Handle", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed build left %s behind (stat: %v)", out, err)
	}
}

func TestParseTinyGoVersion(t *testing.T) {
	for _, c := range []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"tinygo version 0.34.0-dev-6e6507bf linux/amd64 (using go version go1.23.12 and LLVM version 16.0.6)", 0, 34, true},
		{"tinygo version 0.33.0 linux/amd64", 0, 33, true},
		{"tinygo version 1.2.3", 1, 2, true},
		{"go version go1.26", 0, 0, false},
	} {
		major, minor, ok := parseTinyGoVersion(c.in)
		if major != c.major || minor != c.minor || ok != c.ok {
			t.Errorf("parseTinyGoVersion(%q) = %d, %d, %v; want %d, %d, %v", c.in, major, minor, ok, c.major, c.minor, c.ok)
		}
	}
}

// A caller that collects stdout and stderr in one buffer gets the compiler's
// messages (exec must not write to it from two goroutines).
func TestBuildErrorOutputInOneBuffer(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module broken\n\ngo 1.21\n")
	writeFile(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() { undefinedThing() }\n")
	var out bytes.Buffer
	if _, err := Build(context.Background(), Options{PkgDir: dir, Stdout: &out, Stderr: &out}); err == nil {
		t.Fatal("a package that does not compile built")
	}
	if !strings.Contains(out.String(), "main.go:3:") || !strings.Contains(out.String(), "undefinedThing") {
		t.Errorf("compiler output %q lacks main.go:3: and the message", out.String())
	}
}

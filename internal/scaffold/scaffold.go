// Package scaffold creates a new plugin module: what `wasmhost new NAME`
// runs.
//
// The module it writes is complete and offline: besides main.go,
// main_test.go, go.mod and a README, it gets a copy of the SDK and the ABI
// that this wasmhost speaks (embedded in the binary by the sdk and abi
// modules themselves, see sdk.Source) under NAME/.wasmhost/, and go.mod
// points at them with replace directives. So `wasmhost build NAME` and
// `go test ./...` work with GOPROXY=off, and the SDK always matches the
// host's ABI version. The go tool skips folders whose names start with a
// dot, so ./... patterns do not reach the copies.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/sdk"
)

//go:embed template/*.tmpl
var templates embed.FS

// SDKVersion is the version of the SDK and ABI modules this wasmhost
// carries: v1.<ABI minor>.0, as their go.mod files explain.
var SDKVersion = fmt.Sprintf("v%d.%d.0", abi.VersionMajor, abi.VersionMinor)

// ModulesDir is the folder, inside a new plugin module, that holds the SDK
// and the ABI.
const ModulesDir = ".wasmhost"

// validName is what a plugin module's name may be: one path element that is
// also a valid module path and a handy file name.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Create makes the folder dir (which must not exist, or be empty) holding
// a new plugin module named after its last element.
func Create(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("new %s: %w", dir, err)
	}
	name := filepath.Base(abs)
	if !validName.MatchString(name) || strings.HasSuffix(name, ".wasm") || strings.HasSuffix(name, ".") {
		return fmt.Errorf("new %s: %q is not a usable plugin name (letters, digits, '.', '-', '_'; starting with a letter or digit, not ending with '.')", dir, name)
	}
	if err := checkNotStd(name); err != nil {
		return fmt.Errorf("new %s: %w", dir, err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("new %s: the folder exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("new %s: %w", dir, err)
	}
	data := struct{ Name, Module, SDKVersion string }{name, name, SDKVersion}
	files := map[string]string{
		"go.mod": "go.mod.tmpl", "main.go": "main.go.tmpl",
		"main_test.go": "main_test.go.tmpl", "README.md": "README.md.tmpl",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("new %s: %w", dir, err)
	}
	for out, tmpl := range files {
		if err := writeTemplate(filepath.Join(dir, out), tmpl, data); err != nil {
			return fmt.Errorf("new %s: %w", dir, err)
		}
	}
	for sub, src := range map[string]fs.FS{"sdk": sdk.Source, "abi": abi.Source} {
		if err := writeModule(filepath.Join(dir, ModulesDir, sub), src); err != nil {
			return fmt.Errorf("new %s: %w", dir, err)
		}
	}
	return nil
}

// checkNotStd refuses a name that is also a standard-library package path
// ("errors", "log", "net"): the module path would then name two packages,
// and every build of the module fails with "ambiguous import: found
// package errors in multiple modules". The standard library is whatever
// the go command's GOROOT holds; without a go command nothing can build
// the module anyway, and the check is skipped.
func checkNotStd(name string) error {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil
	}
	goroot := strings.TrimSpace(string(out))
	if fi, err := os.Stat(filepath.Join(goroot, "src", name)); err != nil || !fi.IsDir() || goroot == "" {
		return nil
	}
	return fmt.Errorf("%q is the name of a standard-library package, so a module named after it cannot build (ambiguous import); choose another name, such as %q", name, name+"-plugin")
}

func writeTemplate(path, name string, data any) error {
	t, err := template.ParseFS(templates, "template/"+name)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// writeModule writes an embedded module's files into dir, leaving out its
// tests (they belong to the module's own repository, not to a copy).
func writeModule(dir string, src fs.FS) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := fs.ReadDir(src, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		b, err := fs.ReadFile(src, e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

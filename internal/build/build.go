// Package build compiles a Go handler package into a wasmhost plugin: it is
// what `wasmhost build` runs, so that users never type GOOS, GOARCH or
// -buildmode themselves.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Options says what to build and how.
type Options struct {
	PkgDir string // the handler package folder
	Output string // "" → PkgDir/<base name of PkgDir>.wasm
	TinyGo bool
	// TinyGoScheduler is TinyGo's -scheduler; "" means "none" (see
	// DefaultTinyGoScheduler).
	TinyGoScheduler string
	LDFlags         string // passed to the compiler's -ldflags, e.g. "-X main.version=2"
	Tags            string // passed to the compiler's -tags: build tags, comma- or space-separated
	// BeforeInstall, if set, runs on the finished module before it is
	// renamed into place (wasmhost build compiles it into the cache there,
	// so a server watching the output swaps it in without compiling).
	BeforeInstall func(path string) error
	// InstallFailingInit installs a module whose initialisers fail instead
	// of refusing it. A debug server sets it: its loader then refuses the
	// version the way it refuses any other, and the plugin's requests get
	// an error page with the initialiser's panic rather than an empty
	// compiler report.
	InstallFailingInit bool
	Stdout, Stderr     io.Writer // compiler output goes here
}

// DefaultTinyGoScheduler is the TinyGo scheduler plugins get unless asked
// otherwise. With "none" a plugin cannot start goroutines (a go statement
// fails to compile: "attempted to start a goroutine without a scheduler"),
// but a request costs what it costs with standard Go; TinyGo's default
// scheduler (asyncify) made a hello request some 70 times slower.
const DefaultTinyGoScheduler = "none"

// Build compiles the package to a plugin and returns the output path.
//
// Standard Go runs `go build -buildmode=c-shared -trimpath -o OUT .` with
// GOOS=wasip1 GOARCH=wasm; TinyGo runs `tinygo build -target=wasip1
// -buildmode=c-shared -o OUT .`. Both run in PkgDir, so the package's own
// go.mod decides its dependencies. Symbols are kept: the host needs the
// function names for guest stack traces, and stripping saves little.
func Build(ctx context.Context, opt Options) (string, error) {
	if opt.PkgDir == "" {
		return "", errors.New("build: no package folder given")
	}
	if err := checkPkgDir(opt.PkgDir); err != nil {
		return "", err
	}
	out := opt.Output
	if out == "" {
		out = DefaultOutput(opt.PkgDir)
	}
	// The compiler runs in PkgDir, so it must get an absolute output path.
	absOut, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", opt.PkgDir, err)
	}
	// Build next to the target and rename over it: a server watching the
	// file (autoreload) then sees one complete new module, never a
	// half-written one.
	tmpOut := filepath.Join(filepath.Dir(absOut), "."+filepath.Base(absOut)+".building-"+strconv.Itoa(os.Getpid()))
	defer os.Remove(tmpOut)

	defer os.Remove(tinygoTargetPath(filepath.Dir(tmpOut)))
	cmd, err := compileCommand(ctx, opt, tmpOut)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", opt.PkgDir, err)
	}
	cmd.Dir = opt.PkgDir
	var output bytes.Buffer // kept to explain a failure the compiler words obscurely
	cmd.Stdout = orDiscard(opt.Stdout)
	cmd.Stderr = io.MultiWriter(orDiscard(opt.Stderr), &output)
	if opt.Stdout == opt.Stderr {
		// One writer for both, so exec writes to it from one goroutine:
		// a bytes.Buffer shared by two would lose output.
		cmd.Stdout = cmd.Stderr
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("build %s: %w", opt.PkgDir, ctx.Err())
		}
		if !opt.TinyGo && strings.Contains(output.String(), "-buildmode=c-shared not supported on wasip1") {
			return "", fmt.Errorf("build %s: the go command first in PATH is older than Go 1.24, the first that builds wasip1 plugins (-buildmode=c-shared); put a newer Go first in PATH, or build with --tinygo", opt.PkgDir)
		}
		return "", fmt.Errorf("build %s: %w", opt.PkgDir, err)
	}
	if err := checkRegistered(ctx, tmpOut); err != nil && !(opt.InstallFailingInit && errors.Is(err, ErrInitFails)) {
		return "", fmt.Errorf("build %s: %w", opt.PkgDir, err)
	}
	if opt.BeforeInstall != nil {
		if err := opt.BeforeInstall(tmpOut); err != nil {
			return "", fmt.Errorf("build %s: %w", opt.PkgDir, err)
		}
	}
	if err := os.Rename(tmpOut, absOut); err != nil {
		return "", fmt.Errorf("build %s: %w", opt.PkgDir, err)
	}
	return out, nil
}

// compileCommand is the go (or tinygo) command that builds the package to
// out.
func compileCommand(ctx context.Context, opt Options, out string) (*exec.Cmd, error) {
	var flags []string
	if opt.Tags != "" {
		flags = append(flags, "-tags", opt.Tags)
	}
	if opt.LDFlags != "" {
		flags = append(flags, "-ldflags", opt.LDFlags)
	}
	if opt.TinyGo {
		tinygo, err := findTinyGo(ctx)
		if err != nil {
			return nil, err
		}
		sched := opt.TinyGoScheduler
		if sched == "" {
			sched = DefaultTinyGoScheduler
		}
		target, err := tinygoTarget(filepath.Dir(out))
		if err != nil {
			return nil, err
		}
		args := append([]string{"build", "-target=" + target, "-buildmode=c-shared", "-scheduler=" + sched}, flags...)
		cmd := exec.CommandContext(ctx, tinygo, append(args, "-o", out, ".")...)
		cmd.Env = os.Environ()
		return cmd, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, errors.New("the go command was not found in PATH; install Go 1.24 or later (https://go.dev/dl/)")
	}
	args := append([]string{"build", "-buildmode=c-shared", "-trimpath"}, flags...)
	cmd := exec.CommandContext(ctx, goTool, append(args, "-o", out, ".")...)
	// Later entries win, so these override whatever the user's
	// environment says.
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	return cmd, nil
}

// DefaultOutput is where a package's plugin goes without -o:
// PkgDir/<folder name>.wasm.
func DefaultOutput(pkgDir string) string {
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		abs = pkgDir
	}
	return filepath.Join(pkgDir, filepath.Base(abs)+".wasm")
}

// checkPkgDir catches the mistakes the compiler would report obscurely.
func checkPkgDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("build %s: no such folder", dir)
	}
	if err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("build %s: not a folder (give the folder of the handler package)", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			return nil
		}
	}
	return fmt.Errorf("build %s: no Go source files in the folder", dir)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

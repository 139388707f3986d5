// Command guestbench runs a wasip1 command module (a test binary built with
// GOOS=wasip1 GOARCH=wasm go test -c) on wazero, with every
// function it imports from the wasmhost module stubbed to return zeros. It
// is for running the SDK's own benchmarks inside WebAssembly, where their
// costs differ from native ones: the benchmarks use a fake host and never
// call the real imports.
//
//	GOOS=wasip1 GOARCH=wasm go test -c -o /tmp/sdk.wasm ./sdk
//	go run ./bench/guestbench [-interrupt=false] /tmp/sdk.wasm -test.bench ServeHello -test.run XXX
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// interrupt is wazero's interruption support, which wasmhost always turns
// on: with it every loop header, and so every standard-Go function, leaves
// the native code to check the module, and the SDK's cost grows with the
// number of calls it makes.
var interrupt = flag.Bool("interrupt", true, "run with WithCloseOnContextDone, as wasmhost does")

func main() {
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: guestbench MODULE.wasm [ARGS...]")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "guestbench:", err)
		os.Exit(1)
	}
}

func run(path string, args []string) error {
	ctx := context.Background()
	bin, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(*interrupt))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return fmt.Errorf("compile %s: %w", path, err)
	}
	if err := stubImports(ctx, rt, mod, "wasmhost"); err != nil {
		return err
	}
	cfg := wazero.NewModuleConfig().WithArgs(args...).WithStdout(os.Stdout).WithStderr(os.Stderr).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)
	for _, kv := range []string{"GOGC", "GODEBUG"} {
		if v, ok := os.LookupEnv(kv); ok {
			cfg = cfg.WithEnv(kv, v) // the guest's runtime settings, passed through
		}
	}
	_, err = rt.InstantiateModule(ctx, mod, cfg)
	return err
}

// stubImports defines every function mod imports from module name as one
// that returns zeros.
func stubImports(ctx context.Context, rt wazero.Runtime, mod wazero.CompiledModule, name string) error {
	b := rt.NewHostModuleBuilder(name)
	for _, f := range mod.ImportedFunctions() {
		m, fn, _ := f.Import()
		if m != name {
			continue
		}
		results := f.ResultTypes()
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
			for i := range results {
				stack[i] = 0
			}
		}), f.ParamTypes(), results).Export(fn)
	}
	_, err := b.Instantiate(ctx)
	return err
}

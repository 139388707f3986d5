package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/wasmhost/wasmhost/internal/build"
)

func cmdBuild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	out := fs.String("o", "", "output file (default PKGDIR/<dirname>.wasm)")
	tinygo := fs.Bool("tinygo", false, "compile with TinyGo instead of standard Go")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wasmhost build [-o OUT.wasm] [--tinygo] PKGDIR")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	path, err := build.Build(context.Background(), build.Options{
		PkgDir: fs.Arg(0), Output: *out, TinyGo: *tinygo, Stdout: stdout, Stderr: stderr,
	})
	if err != nil {
		fmt.Fprintf(stderr, "wasmhost: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, path)
	return exitOK
}

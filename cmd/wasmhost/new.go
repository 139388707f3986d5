package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/wasmhost/wasmhost/internal/scaffold"
)

func cmdNew(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("new", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wasmhost new NAME")
		fmt.Fprintln(stderr, "creates the folder NAME holding a plugin module: main.go, main_test.go, go.mod, README.md")
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	dir := fs.Arg(0)
	if err := scaffold.Create(dir); err != nil {
		fmt.Fprintf(stderr, "wasmhost: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "created %s (SDK %s in %s/%s, no network needed)\n", dir, scaffold.SDKVersion, dir, scaffold.ModulesDir)
	fmt.Fprintf(stdout, "test it:  (cd %s && go test ./...)\nbuild it: wasmhost build %s\n", dir, dir)
	return exitOK
}

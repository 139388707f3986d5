package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/build"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/loader"
)

func cmdBuild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	out := fs.String("o", "", "output file (default PKGDIR/<dirname>.wasm)")
	tinygo := fs.Bool("tinygo", false, "compile with TinyGo instead of standard Go")
	scheduler := fs.String("tinygo-scheduler", build.DefaultTinyGoScheduler,
		"TinyGo's -scheduler (with --tinygo); \"none\" is fastest but handlers cannot start goroutines")
	tags := fs.String("tags", "", "build tags, passed to the compiler's -tags")
	ldflags := fs.String("ldflags", "", "linker flags, passed to the compiler's -ldflags (e.g. \"-X main.version=2\")")
	noCache := fs.Bool("no-precompile", false, "do not compile the module into wasmhost's compilation cache")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wasmhost build [-o OUT.wasm] [--tags TAGS] [--ldflags FLAGS] [--tinygo [--tinygo-scheduler NAME]] PKGDIR")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	opts := build.Options{PkgDir: fs.Arg(0), Output: *out, TinyGo: *tinygo, TinyGoScheduler: *scheduler,
		Tags: *tags, LDFlags: *ldflags, Stdout: stdout, Stderr: stderr}
	if !*noCache {
		// Compile the module into the cache before it is renamed into
		// place: a server watching the file then swaps it in within
		// milliseconds instead of compiling it first. Best effort.
		opts.BeforeInstall = func(path string) error {
			dir, err := loader.DefaultCacheDir()
			if err != nil {
				return nil
			}
			// build reads no site.hcl: the cache keeps the default bound.
			// Its compile lines go to stderr: a big module takes many
			// seconds, which would otherwise pass in silence.
			log := hclog.New(&hclog.LoggerOptions{Name: "wasmhost", Output: stderr, Level: hclog.Info})
			l, err := loader.New(loader.Options{CacheDir: dir, CacheSize: config.DefaultCacheSize, Logger: log})
			if err != nil {
				return nil
			}
			defer l.Close(context.Background())
			if err := l.Precompile(context.Background(), "", path); err != nil {
				return fmt.Errorf("the module does not compile: %w", err)
			}
			return nil
		}
	}
	path, err := build.Build(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(stderr, "wasmhost: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, path)
	return exitOK
}

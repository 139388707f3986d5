// Command wasmhost serves HTTP handlers compiled to WebAssembly.
//
//	wasmhost run [flags] SITE.hcl     serve the site
//	wasmhost check SITE.hcl           validate the config and every plugin
//	wasmhost build [-o OUT.wasm] [--tinygo] PKGDIR
//	wasmhost new NAME                 create a plugin module
//	wasmhost version
//
// Exit status: 0 success, 1 runtime failure, 2 bad usage or invalid config.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `wasmhost serves HTTP handlers compiled to WebAssembly.

Usage:
  wasmhost run [flags] SITE.hcl     serve the site (wasmhost run -h for flags)
  wasmhost check SITE.hcl           validate the config and every plugin
  wasmhost build [-o OUT.wasm] [--tinygo] PKGDIR
                                    compile a Go handler package to a plugin
  wasmhost new NAME                 create a plugin module in the folder NAME
  wasmhost version                  print version information
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "build":
		return cmdBuild(args[1:], stdout, stderr)
	case "new":
		return cmdNew(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "wasmhost: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// parseFlags parses a subcommand's flags, which may also follow the
// positional arguments ("run site.hcl --listen :8001", as process managers
// are often configured); positional arguments end up in fs.Args. ok is
// false when the caller should return code (help, or bad flags).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(stderr)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK, false
			}
			return exitUsage, false
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.Parse(append([]string{"--"}, positional...))
	return 0, true
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

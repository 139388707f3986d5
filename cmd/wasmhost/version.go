package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/version"
)

func cmdVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "wasmhost %s\ngo        %s %s/%s\nwazero    %s\nwazy      %s\nabi       %d.%d\n",
		version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH,
		version.Wazero(), version.Wazy(), abi.VersionMajor, abi.VersionMinor)
	return exitOK
}

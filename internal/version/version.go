// Package version says which wasmhost this is. Release builds set Version
// with -ldflags "-X github.com/wasmhost/wasmhost/internal/version.Version=...".
package version

import (
	"runtime/debug"
)

// Version of wasmhost.
var Version = "0.1.0-dev"

// Wazero is the version of the wazero runtime compiled in, from the build
// information ("unknown" in binaries built without module information).
func Wazero() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/tetratelabs/wazero" {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return "unknown"
}

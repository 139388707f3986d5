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
func Wazero() string { return dependency("github.com/tetratelabs/wazero") }

// Wazy is the version of the wazy runtime compiled in, like Wazero.
func Wazy() string { return dependency("github.com/samyfodil/wazy") }

func dependency(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return "unknown"
}

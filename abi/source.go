//go:build !wasip1

package abi

import "embed"

// Source holds this module's own files (its Go sources and go.mod), so that
// a wasmhost binary carries the exact ABI it speaks: `wasmhost new` writes
// it next to a new plugin, which then builds with no network. It lives in
// the ABI module because go:embed cannot reach into another module's
// folder; code that does not reference it does not link it.
//
//go:embed *.go go.mod
var Source embed.FS

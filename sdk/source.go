//go:build !wasip1

package sdk

import "embed"

// Source holds this module's own files (its Go sources and go.mod), so that
// a wasmhost binary carries the exact SDK it speaks: `wasmhost new` writes
// it next to a new plugin, which then builds with no network. It lives in
// the SDK module because go:embed cannot reach into another module's
// folder; plugins never reference it, so the linker leaves it out of them.
//
//go:embed *.go go.mod
var Source embed.FS

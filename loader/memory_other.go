//go:build !linux

package loader

import "github.com/tetratelabs/wazero/experimental"

// mmapAllocator is nil elsewhere: wazero's default []byte memory is used.
var mmapAllocator experimental.MemoryAllocator

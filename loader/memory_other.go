//go:build !linux

package loader

// Elsewhere each engine's default []byte memory is used.
const haveMappedMemory = false

type mappedMemory struct{}

func newMappedMemory(cap, max uint64) *mappedMemory { return nil }

func (m *mappedMemory) Reallocate(size uint64) []byte { return nil }
func (m *mappedMemory) Free()                         {}

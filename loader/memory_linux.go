//go:build linux

package loader

import "golang.org/x/sys/unix"

// haveMappedMemory: each engine's allocator uses newMappedMemory.
const haveMappedMemory = true

// newMappedMemory backs each instance's linear memory with its own mapping:
// the whole maximum (the memory limit) is reserved as address space at
// once, and pages are made accessible as the guest grows its memory.
//
// It returns nil when the reservation fails. Each engine adapts it to its
// own allocator interface (the methods are the same).
//
// Why not the engines' default, a Go []byte: growing it reallocates and copies
// the whole memory (a standard-Go guest grows its heap in steps, so that is
// a copy of several MiB at a time), the memory counts as Go heap and paces
// the host's garbage collector, and a discarded instance's memory returns
// to the system only after the next GC. A mapping grows in place, is
// invisible to the Go heap, and is unmapped the moment an instance closes.
func newMappedMemory(cap, max uint64) *mappedMemory {
	const pageAlign = 1 << 16
	reserve := (max + pageAlign - 1) &^ (pageAlign - 1)
	if reserve == 0 {
		reserve = pageAlign
	}
	b, err := unix.Mmap(-1, 0, int(reserve), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	return &mappedMemory{region: b}
}

type mappedMemory struct {
	region    []byte // the whole reservation
	committed int    // bytes made readable and writable
}

func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.region)) {
		return nil
	}
	if n := int(size); n > m.committed {
		const page = 1 << 16
		end := (n + page - 1) &^ (page - 1)
		if end > len(m.region) {
			end = len(m.region)
		}
		if err := unix.Mprotect(m.region[m.committed:end], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = end
	}
	return m.region[:size]
}

func (m *mappedMemory) Free() {
	if m.region != nil {
		unix.Munmap(m.region)
		m.region = nil
	}
}

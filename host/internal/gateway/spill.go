package gateway

import (
	"io"
	"os"
)

// TempFile is an unlinked temporary file for body data spilled from
// memory: nothing outlives the request, even after a crash.
func TempFile() (*os.File, error) {
	f, err := os.CreateTemp("", "wasmhost-body-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// SpillBuffer holds bytes written once and then read back once, in memory
// up to MemMax and in a temporary file past that: the part of a body that
// a built-in middleware read and must replay (xsrf's form scan).
type SpillBuffer struct {
	MemMax       int
	mem          []byte
	memR         int
	file         *os.File
	fileW, fileR int64
}

func (b *SpillBuffer) Write(p []byte) (int, error) {
	if b.file == nil && len(b.mem)+len(p) <= b.MemMax {
		b.mem = append(b.mem, p...)
		return len(p), nil
	}
	if b.file == nil {
		f, err := TempFile()
		if err != nil {
			return 0, err
		}
		b.file = f
	}
	n, err := b.file.WriteAt(p, b.fileW)
	b.fileW += int64(n)
	return n, err
}

func (b *SpillBuffer) Read(p []byte) (int, error) {
	if b.memR < len(b.mem) {
		n := copy(p, b.mem[b.memR:])
		b.memR += n
		return n, nil
	}
	if b.file != nil && b.fileR < b.fileW {
		n, err := b.file.ReadAt(p[:min(int64(len(p)), b.fileW-b.fileR)], b.fileR)
		b.fileR += int64(n)
		if n > 0 {
			return n, nil
		}
		return 0, err
	}
	return 0, io.EOF
}

// Close frees the memory and the file.
func (b *SpillBuffer) Close() error {
	b.mem = nil
	if b.file != nil {
		b.file.Close()
		b.file = nil
	}
	return nil
}

//go:build wasip1

package main

import (
	"fmt"
	"syscall"
	"unsafe"
)

// The WASI calls the Go runtime makes, but with paths it never sends:
// uncleaned, absolute, or longer than any host allows.

//go:wasmimport wasi_snapshot_preview1 fd_prestat_get
func fdPrestatGet(fd int32, buf unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 fd_prestat_dir_name
func fdPrestatDirName(fd int32, buf unsafe.Pointer, n int32) int32

//go:wasmimport wasi_snapshot_preview1 path_open
func pathOpen(fd, dirflags int32, path unsafe.Pointer, pathLen, oflags int32, rightsBase, rightsInheriting int64, fdflags int32, newFd unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 fd_read
func fdRead(fd int32, iovs unsafe.Pointer, iovsLen int32, nread unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 fd_close
func fdClose(fd int32) int32

//go:wasmimport wasi_snapshot_preview1 path_link
func pathLink(oldFd, oldFlags int32, oldPath unsafe.Pointer, oldLen, newFd int32, newPath unsafe.Pointer, newLen int32) int32

//go:wasmimport wasi_snapshot_preview1 path_rename
func pathRename(fd int32, oldPath unsafe.Pointer, oldLen, newFd int32, newPath unsafe.Pointer, newLen int32) int32

//go:wasmimport wasi_snapshot_preview1 path_unlink_file
func pathUnlinkFile(fd int32, path unsafe.Pointer, n int32) int32

//go:wasmimport wasi_snapshot_preview1 path_remove_directory
func pathRemoveDirectory(fd int32, path unsafe.Pointer, n int32) int32

const lookupSymlinkFollow = 1

// preopen is the descriptor of the preopened folder named dir.
func preopen(dir string) (int32, error) {
	for fd := int32(3); fd < 64; fd++ {
		var st [8]byte
		if fdPrestatGet(fd, unsafe.Pointer(&st[0])) != 0 {
			continue
		}
		n := int32(st[4]) | int32(st[5])<<8 | int32(st[6])<<16 | int32(st[7])<<24
		name := make([]byte, n)
		if n > 0 && fdPrestatDirName(fd, unsafe.Pointer(&name[0]), n) != 0 {
			continue
		}
		if string(name) == dir {
			return fd, nil
		}
	}
	return 0, fmt.Errorf("no preopen %q", dir)
}

func errnoOf(e int32) error {
	if e == 0 {
		return nil
	}
	return syscall.Errno(e)
}

// ptr is where s's bytes are; s is kept alive by the caller.
func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func raw(op, dir, old, p string) (string, error) {
	fd, err := preopen(dir)
	if err != nil {
		return "", err
	}
	pb, ob := []byte(p), []byte(old)
	switch op {
	case "raw-open":
		return rawRead(fd, pb)
	case "raw-link":
		return "", errnoOf(pathLink(fd, 0, ptr(ob), int32(len(ob)), fd, ptr(pb), int32(len(pb))))
	case "raw-rename":
		return "", errnoOf(pathRename(fd, ptr(ob), int32(len(ob)), fd, ptr(pb), int32(len(pb))))
	case "raw-unlink":
		return "", errnoOf(pathUnlinkFile(fd, ptr(pb), int32(len(pb))))
	case "raw-rmdir":
		return "", errnoOf(pathRemoveDirectory(fd, ptr(pb), int32(len(pb))))
	}
	return "", fmt.Errorf("unknown op %q", op)
}

// rawRead opens p relative to dirFd, following symlinks, and reads it.
func rawRead(dirFd int32, p []byte) (string, error) {
	var fd int32
	const rightsRead = 1 << 1 // fd_read
	if e := pathOpen(dirFd, lookupSymlinkFollow, ptr(p), int32(len(p)), 0, rightsRead, 0, 0, unsafe.Pointer(&fd)); e != 0 {
		return "", errnoOf(e)
	}
	defer fdClose(fd)
	var out []byte
	buf := make([]byte, 4096)
	for {
		iov := [2]uint32{uint32(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf))}
		var n uint32
		if e := fdRead(fd, unsafe.Pointer(&iov[0]), 1, unsafe.Pointer(&n)); e != 0 {
			return string(out), errnoOf(e)
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

package loader

import (
	"syscall"
	"unsafe"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"golang.org/x/sys/unix"
)

func datasync(fd int) error { return unix.Fdatasync(fd) }

// futimens is utimensat(fd, NULL, times, 0): the open file's own times, by
// its descriptor (x/sys has no form of it without a path).
func futimens(fd int, atim, mtim int64) error {
	ts := [2]unix.Timespec{timespec(atim), timespec(mtim)}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if e != 0 {
		return syscall.Errno(e)
	}
	return nil
}

func timespec(nanos int64) unix.Timespec {
	if nanos == experimentalsys.UTIME_OMIT {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(nanos)
}

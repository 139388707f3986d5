//go:build !linux

package loader

import (
	"syscall"

	"golang.org/x/sys/unix"
)

func datasync(fd int) error { return unix.Fsync(fd) }

// futimens is not offered where the descriptor-only call is not known to
// exist: setting an open file's times by its path could reach another
// file.
func futimens(int, int64, int64) error { return syscall.ENOSYS }

package static

import (
	"io/fs"
	"syscall"
	"time"
)

// sysKey is the part of a file's identity that only the system's stat
// structure has: which file (device and inode) and when its inode last
// changed (ctime, which no user call can set back, unlike mtime).
type sysKey struct {
	dev, ino uint64
	ctime    int64 // Unix nanoseconds
}

func sysKeyOf(fi fs.FileInfo) sysKey {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return sysKey{}
	}
	return sysKey{dev: uint64(st.Dev), ino: uint64(st.Ino), ctime: st.Ctim.Nano()}
}

// changeTime is the inode change time, or the modification time when the
// system does not say.
func changeTime(fi fs.FileInfo) time.Time {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fi.ModTime()
	}
	return time.Unix(st.Ctim.Unix())
}

package loader

import (
	"io"
	"io/fs"
	"os"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// rootFile is a file or directory a guest opened in a rootDir. wazero
// exports no wrapper of an *os.File that keeps every operation (its
// AdaptFS opens read-only, NewStdioFile fakes stat and never closes), so
// this is one, acting on the descriptor only: nothing here goes back to
// the file's path, which a guest could have swapped for a link since.
type rootFile struct {
	seeker[int64]
	f      *os.File
	flag   experimentalsys.Oflag // as opened, with O_APPEND and O_NONBLOCK as set since
	closed bool

	// st is the file's device, inode and type, which do not change while
	// it is open; zero until the first stat.
	st *sys.Stat_t
}

var _ experimentalsys.PollableFile = (*rootFile)(nil)

func (f *rootFile) cached() (*sys.Stat_t, experimentalsys.Errno) {
	if f.st == nil {
		if _, errno := f.Stat(); errno != 0 {
			return nil, errno
		}
	}
	return f.st, 0
}

func (f *rootFile) Dev() (uint64, experimentalsys.Errno) {
	st, errno := f.cached()
	if errno != 0 {
		return 0, errno
	}
	return st.Dev, 0
}

func (f *rootFile) Ino() (sys.Inode, experimentalsys.Errno) {
	st, errno := f.cached()
	if errno != 0 {
		return 0, errno
	}
	return st.Ino, 0
}

func (f *rootFile) IsDir() (bool, experimentalsys.Errno) {
	st, errno := f.cached()
	if errno != 0 {
		return false, errno
	}
	return st.Mode.IsDir(), 0
}

func (f *rootFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, experimentalsys.UnwrapOSError(err)
	}
	st := sys.NewStat_t(fi)
	f.st = &sys.Stat_t{Dev: st.Dev, Ino: st.Ino, Mode: st.Mode.Type()}
	return st, 0
}

func (f *rootFile) IsAppend() bool { return f.flag&experimentalsys.O_APPEND != 0 }

// SetAppend changes the descriptor's O_APPEND in place (wazero reopens the
// file by its path, which a link could have taken over since).
func (f *rootFile) SetAppend(enable bool) experimentalsys.Errno {
	return f.setFlag(unix.O_APPEND, experimentalsys.O_APPEND, enable)
}

func (f *rootFile) IsNonblock() bool { return f.flag&experimentalsys.O_NONBLOCK != 0 }

func (f *rootFile) SetNonblock(enable bool) experimentalsys.Errno {
	return f.setFlag(unix.O_NONBLOCK, experimentalsys.O_NONBLOCK, enable)
}

// setFlag turns a file status flag of the descriptor (bit, and oflag as
// rootFile keeps it) on or off.
func (f *rootFile) setFlag(bit int, oflag experimentalsys.Oflag, on bool) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	err := withFd(f.f, func(fd int) error {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return err
		}
		if on {
			flags |= bit
		} else {
			flags &^= bit
		}
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
		return err
	})
	if err != nil {
		return experimentalsys.UnwrapOSError(err)
	}
	if on {
		f.flag |= oflag
	} else {
		f.flag &^= oflag
	}
	return 0
}

func (f *rootFile) Poll(flag experimentalsys.Pflag, timeoutMillis int32) (bool, experimentalsys.Errno) {
	if flag != experimentalsys.POLLIN {
		return false, experimentalsys.ENOTSUP
	}
	var n int
	err := withFd(f.f, func(fd int) error {
		var e error
		n, e = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(timeoutMillis))
		return e
	})
	return n > 0, experimentalsys.UnwrapOSError(err)
}

// errno is the errno of an I/O error, EBADF once closed.
func (f *rootFile) errno(err error) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return experimentalsys.UnwrapOSError(err)
}

func (f *rootFile) Read(buf []byte) (int, experimentalsys.Errno)  { return f.rw(buf, f.f.Read) }
func (f *rootFile) Write(buf []byte) (int, experimentalsys.Errno) { return f.rw(buf, f.f.Write) }

func (f *rootFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	return f.rwAt(buf, off, f.f.ReadAt)
}

func (f *rootFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	return f.rwAt(buf, off, f.f.WriteAt)
}

// rw reads or writes at the file's offset; an empty buffer costs no call.
func (f *rootFile) rw(buf []byte, op func([]byte) (int, error)) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := op(buf)
	return n, f.errno(err)
}

// rwAt reads or writes at off (io.EOF is no error: n says how much).
func (f *rootFile) rwAt(buf []byte, off int64, op func([]byte, int64) (int, error)) (int, experimentalsys.Errno) {
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	return f.rw(buf, func(b []byte) (int, error) { return op(b, off) })
}

// seeker gives rootFile its Seek. It is generic only so that go vet's
// stdmethods check, which takes any Seek(int64, int) for io.Seeker's and
// wants an error result, lets it be: wazero's File.Seek returns an Errno.
type seeker[Offset ~int64] struct{ f *os.File }

func (s seeker[Offset]) Seek(offset Offset, whence int) (Offset, experimentalsys.Errno) {
	if uint(whence) > io.SeekEnd {
		return 0, experimentalsys.EINVAL
	}
	// On a directory, Seek(0, SeekStart) also rewinds os.File's
	// directory reading.
	n, err := s.f.Seek(int64(offset), whence)
	return Offset(n), experimentalsys.UnwrapOSError(err)
}

func (f *rootFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if f.closed {
		return nil, experimentalsys.EBADF
	}
	// os.File.Readdir stats each entry relative to the directory's
	// descriptor (fstatat), not by path.
	fis, err := f.f.Readdir(n)
	if errno := experimentalsys.UnwrapOSError(err); errno != 0 {
		return nil, errno
	}
	out := make([]experimentalsys.Dirent, 0, len(fis))
	for _, fi := range fis {
		out = append(out, experimentalsys.Dirent{Name: fi.Name(), Ino: inode(fi), Type: fi.Mode().Type()})
	}
	return out, 0
}

func inode(fi fs.FileInfo) sys.Inode {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return sys.Inode(st.Ino)
	}
	return sys.NewStat_t(fi).Ino
}

func (f *rootFile) Truncate(size int64) experimentalsys.Errno {
	if size < 0 {
		return experimentalsys.EINVAL
	}
	return f.errno(f.f.Truncate(size))
}

func (f *rootFile) Sync() experimentalsys.Errno { return f.errno(f.f.Sync()) }

func (f *rootFile) Datasync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return experimentalsys.UnwrapOSError(withFd(f.f, datasync))
}

// Utimens sets the open file's times (UTIME_OMIT leaves one as it is).
func (f *rootFile) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	return experimentalsys.UnwrapOSError(withFd(f.f, func(fd int) error { return futimens(fd, atim, mtim) }))
}

func (f *rootFile) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	return experimentalsys.UnwrapOSError(f.f.Close())
}

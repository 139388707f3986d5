package loader

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// rootDir is a granted folder as wazero's guests see it: every path is
// resolved inside the folder by an os.Root, component by component from a
// descriptor of the folder, so neither "..", nor a symlink (the guest's, the
// host's or another plugin's), nor a link swapped in between two calls
// leads a guest outside it. wazero's own DirFS joins the guest's path to
// the folder's and lets the kernel follow whatever links it meets, which is
// how a guest-made symlink reached the host's files (docs/ARCHITECTURE.md,
// "Why os.Root?").
//
// The WASI layer has already cleaned the path and refused absolute ones and
// those that climb out lexically; os.Root refuses them again.
type rootDir struct {
	host string

	mu   sync.Mutex
	root atomic.Pointer[os.Root]
}

func newRootDir(host string) *rootDir { return &rootDir{host: host} }

// open returns the folder's root, opened on first use and kept: a root is
// safe for concurrent use, and opening one per call would cost a path walk
// per call. A folder that cannot be opened yet is tried again next time.
// The root lives as long as the compiled plugin that mounts it (os.Root
// closes its descriptor when it is collected).
func (d *rootDir) open() (*os.Root, experimentalsys.Errno) {
	if r := d.root.Load(); r != nil {
		return r, 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.root.Load(); r != nil {
		return r, 0
	}
	r, err := os.OpenRoot(d.host)
	if err != nil {
		return nil, rootErrno(err)
	}
	d.root.Store(r)
	return r, 0
}

func (d *rootDir) String() string { return d.host }

// rootName is a guest path as a name inside the root: relative, "." for
// the folder itself.
func rootName(p string) string {
	if p = strings.TrimLeft(p, "/"); p == "" {
		return "."
	}
	return p
}

// errPathEscapes is os.Root's error for a path that leads out of it
// (through "..", an absolute symlink or one climbing out); os does not
// export it, so it is recognised by its text (guestfs_test.go pins it).
const errPathEscapes = "path escapes from parent"

// rootErrno is the errno for an error of os.Root. A path that would leave
// the folder is refused with EPERM, as the WASI layer refuses a path that
// climbs out lexically.
func rootErrno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	errno := experimentalsys.UnwrapOSError(err)
	if errno == experimentalsys.EIO {
		for e := err; e != nil; e = errors.Unwrap(e) {
			if e.Error() == errPathEscapes {
				return experimentalsys.EPERM
			}
		}
	}
	return errno
}

func (d *rootDir) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	r, errno := d.open()
	if errno != 0 {
		return nil, errno
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0 {
		return nil, experimentalsys.EISDIR
	}
	if flag&experimentalsys.O_CREAT != 0 {
		// WASI's path_open carries no mode: 0666 less the umask, as
		// most programs create files (wazero would use 0600).
		perm = 0o666
	}
	var f *os.File
	var err error
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		f, err = openNoFollow(r, rootName(p), osOpenFlag(flag), perm)
	} else {
		f, err = r.OpenFile(rootName(p), osOpenFlag(flag), perm)
	}
	if err != nil {
		return nil, rootErrno(err)
	}
	return &rootFile{seeker: seeker[int64]{f}, f: f, flag: flag}, 0
}

// openNoFollow opens name without following it if it is a symlink
// (ELOOP), as O_NOFOLLOW means: os.Root would follow a last component
// that stays inside the root. The parent is resolved in the root; the
// last component is opened relative to its descriptor, so nothing can be
// swapped in between.
func openNoFollow(r *os.Root, name string, flag int, perm fs.FileMode) (*os.File, error) {
	parent, err := r.Open(path.Dir(name))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	base := path.Base(name)
	var fd int
	err = withFd(parent, func(dirfd int) error {
		var e error
		fd, e = unix.Openat(dirfd, base, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm))
		return e
	})
	if err != nil {
		return nil, &os.PathError{Op: "openat", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), path.Join(r.Name(), name)), nil
}

// withFd runs fn with f's descriptor, without Fd's side effect of making
// it blocking.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}

// osOpenFlag is wazero's open flag as os.OpenFile's.
func osOpenFlag(oflag experimentalsys.Oflag) int {
	var flag int
	switch oflag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		flag = os.O_RDWR
	case experimentalsys.O_WRONLY:
		flag = os.O_WRONLY
	}
	for _, m := range [...]struct {
		w  experimentalsys.Oflag
		os int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_SYNC, os.O_SYNC},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_DIRECTORY, syscall.O_DIRECTORY},
		{experimentalsys.O_DSYNC, syscall.O_DSYNC},
		{experimentalsys.O_NONBLOCK, syscall.O_NONBLOCK},
	} {
		if oflag&m.w != 0 {
			flag |= m.os
		}
	}
	return flag
}

func (d *rootDir) Stat(p string) (sys.Stat_t, experimentalsys.Errno) { return d.stat(p, true) }
func (d *rootDir) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	return d.stat(p, false)
}

func (d *rootDir) stat(p string, follow bool) (sys.Stat_t, experimentalsys.Errno) {
	r, errno := d.open()
	if errno != 0 {
		return sys.Stat_t{}, errno
	}
	var fi fs.FileInfo
	var err error
	if follow {
		fi, err = r.Stat(rootName(p))
	} else {
		fi, err = r.Lstat(rootName(p))
	}
	if err != nil {
		return sys.Stat_t{}, rootErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Mkdir makes directories 0777 less the umask, as files get 0666 (wazero
// asks for 0700).
func (d *rootDir) Mkdir(p string, _ fs.FileMode) experimentalsys.Errno {
	r, errno := d.open()
	if errno != 0 {
		return errno
	}
	errno = rootErrno(r.Mkdir(rootName(p), 0o777))
	if errno == experimentalsys.ENOTDIR {
		errno = experimentalsys.ENOENT // as wazero's DirFS has it
	}
	return errno
}

func (d *rootDir) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	r, errno := d.open()
	if errno != 0 {
		return errno
	}
	return rootErrno(r.Chmod(rootName(p), perm))
}

// Rename moves an entry within the folder; both names are resolved in
// it, and neither last component is followed (rename(2) moves links, not
// their targets).
func (d *rootDir) Rename(from, to string) experimentalsys.Errno {
	r, errno := d.open()
	if errno != 0 {
		return errno
	}
	return rootErrno(r.Rename(rootName(from), rootName(to)))
}

// Link makes a hard link to a file in the folder: oldPath is resolved in
// it like any other path, so a file outside cannot be named, and a symlink
// is linked itself, not its target.
func (d *rootDir) Link(oldPath, newPath string) experimentalsys.Errno {
	r, errno := d.open()
	if errno != 0 {
		return errno
	}
	return rootErrno(r.Link(rootName(oldPath), rootName(newPath)))
}

// Symlink refuses a target that is absolute or, read from where the link
// is made, climbs out of the folder (EPERM): such a link could never be
// followed inside the folder, and a program on the host that follows
// links there (a backup, a web server) would be led out. A relative target
// that stays inside, ".." included, is made as given. The guarantee is
// not this check but resolution: a link moved by a rename may come to
// point out, and is still never followed out of the folder.
func (d *rootDir) Symlink(target, link string) experimentalsys.Errno {
	if target == "" {
		return experimentalsys.EINVAL
	}
	if path.IsAbs(target) || escapesFrom(path.Dir(rootName(link)), target) {
		return experimentalsys.EPERM
	}
	r, errno := d.open()
	if errno != 0 {
		return errno
	}
	return rootErrno(r.Symlink(target, rootName(link)))
}

// escapesFrom reports whether target, read in folder dir (relative to the
// root), climbs above the root lexically.
func escapesFrom(dir, target string) bool {
	j := path.Join(dir, target)
	return j == ".." || strings.HasPrefix(j, "../")
}

func (d *rootDir) Readlink(p string) (string, experimentalsys.Errno) {
	r, errno := d.open()
	if errno != 0 {
		return "", errno
	}
	dst, err := r.Readlink(rootName(p))
	return dst, rootErrno(err)
}

func (d *rootDir) Unlink(p string) experimentalsys.Errno { return d.remove(p, 0) }
func (d *rootDir) Rmdir(p string) experimentalsys.Errno {
	return d.remove(p, unix.AT_REMOVEDIR)
}

// remove unlinks a file (flag 0) or removes an empty directory
// (AT_REMOVEDIR) relative to its parent's descriptor, opened in the root:
// os.Root.Remove takes either, where unlink must refuse a directory and
// rmdir a file.
func (d *rootDir) remove(p string, flag int) experimentalsys.Errno {
	r, errno := d.open()
	if errno != 0 {
		return errno
	}
	name := path.Clean(rootName(p))
	base := path.Base(name)
	if base == "." || base == ".." {
		return experimentalsys.EINVAL
	}
	parent, err := r.Open(path.Dir(name))
	if err != nil {
		return rootErrno(err)
	}
	defer parent.Close()
	return rootErrno(withFd(parent, func(dirfd int) error { return unix.Unlinkat(dirfd, base, flag) }))
}

// Utimens sets a path's times; UTIME_OMIT leaves one as it is (the zero
// time to os.Root.Chtimes).
func (d *rootDir) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	r, errno := d.open()
	if errno != 0 {
		return errno
	}
	return rootErrno(r.Chtimes(rootName(p), omittable(atim), omittable(mtim)))
}

func omittable(nanos int64) time.Time {
	if nanos == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, nanos)
}

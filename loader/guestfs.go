package loader

import (
	"embed"
	"io/fs"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// The file systems a guest sees: its granted folders (Config.Dirs), and
// around them a root that refuses every path. wazero's own mounts give a
// guest misleading errors, which these correct where the host can:
//
//   - a path outside every grant fails in the Go guest with EBADF ("bad
//     file number"): no preopen matches it. The root mount makes it match
//     one that answers EACCES, "permission denied";
//   - a write to a read-only grant fails with ENOSYS ("not implemented");
//     readOnlyDir answers EROFS, "read-only file system";
//   - WASI's path_open carries no file mode, and wazero creates files 0600
//     whatever the guest asked; rootDir creates them 0666 less the
//     server's umask, as most programs do (0644 under the usual umask).

// wazeroFS mounts the granted folders over a root that refuses every
// other path. Each folder is a rootDir, which resolves every path inside it
// (guestfs_root.go). On wazy a guest gets the engine's own mounts (wazyFS),
// which resolve through an os.Root as well; their errors differ
// (docs/SECURITY.md).
func wazeroFS(dirs []Dir) wazero.FSConfig {
	fs := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(deniedRoot{}, "/")
	for _, d := range dirs {
		if d.Writable {
			fs = fs.(sysfs.FSConfig).WithSysFSMount(newRootDir(d.Host), d.Guest)
		} else {
			fs = fs.(sysfs.FSConfig).WithSysFSMount(readOnlyDir{&sysfs.ReadFS{FS: newRootDir(d.Host)}}, d.Guest)
		}
	}
	return fs
}

// readOnlyDir is a granted folder mounted read-only.
type readOnlyDir struct{ *sysfs.ReadFS }

func (d readOnlyDir) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	mode := flag & (experimentalsys.O_RDONLY | experimentalsys.O_WRONLY | experimentalsys.O_RDWR)
	if mode != experimentalsys.O_RDONLY && flag&experimentalsys.O_DIRECTORY == 0 {
		return nil, experimentalsys.EROFS
	}
	return d.ReadFS.OpenFile(path, flag, perm)
}

// deniedRoot is mounted at "/" under the grants: every path outside them
// is refused with EACCES.
type deniedRoot struct {
	experimentalsys.UnimplementedFS
}

// emptyDir is the root itself, an empty folder: wazero opens each mount's
// root when it sets up the guest's preopens. (The zero embed.FS is empty.)
var emptyDir = &sysfs.AdaptFS{FS: embed.FS{}}

func (deniedRoot) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if path == "." || path == "" {
		return emptyDir.OpenFile(".", flag, perm)
	}
	return nil, experimentalsys.EACCES
}
func (deniedRoot) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) {
	if path == "." || path == "" {
		return emptyDir.Lstat(".")
	}
	return sys.Stat_t{}, experimentalsys.EACCES
}
func (deniedRoot) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	if path == "." || path == "" {
		return emptyDir.Stat(".")
	}
	return sys.Stat_t{}, experimentalsys.EACCES
}
func (deniedRoot) Readlink(string) (string, experimentalsys.Errno) { return "", experimentalsys.EACCES }
func (deniedRoot) Mkdir(string, fs.FileMode) experimentalsys.Errno { return experimentalsys.EACCES }
func (deniedRoot) Chmod(string, fs.FileMode) experimentalsys.Errno { return experimentalsys.EACCES }
func (deniedRoot) Rename(string, string) experimentalsys.Errno     { return experimentalsys.EACCES }
func (deniedRoot) Rmdir(string) experimentalsys.Errno              { return experimentalsys.EACCES }
func (deniedRoot) Link(string, string) experimentalsys.Errno       { return experimentalsys.EACCES }
func (deniedRoot) Symlink(string, string) experimentalsys.Errno    { return experimentalsys.EACCES }
func (deniedRoot) Unlink(string) experimentalsys.Errno             { return experimentalsys.EACCES }
func (deniedRoot) Utimens(string, int64, int64) experimentalsys.Errno {
	return experimentalsys.EACCES
}

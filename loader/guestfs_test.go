package loader

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
)

// The file operations a guest's WASI calls make on a rootDir, called as
// wazero calls them. The escapes themselves are tried by a hostile guest
// on both engines in host/sandbox_fs_test.go.

func newTestRootDir(t *testing.T) (*rootDir, string) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "secret"), []byte("secret"), 0o600)
	return newRootDir(data), data
}

func errnoIs(t *testing.T, what string, got, want experimentalsys.Errno) {
	t.Helper()
	if got != want {
		t.Errorf("%s: errno %v, want %v", what, got, want)
	}
}

// TestRootEscapeErrorIsRecognised pins the text of os.Root's escape error,
// which rootErrno turns into EPERM: were Go to reword it, escapes would be
// answered EIO.
func TestRootEscapeErrorIsRecognised(t *testing.T) {
	d, data := newTestRootDir(t)
	os.Symlink("..", filepath.Join(data, "up"))
	_, errno := d.OpenFile("up/secret", experimentalsys.O_RDONLY, 0)
	errnoIs(t, "open through a link out", errno, experimentalsys.EPERM)
	r, _ := d.open()
	_, err := r.Open("../secret")
	if err == nil || rootErrno(err) != experimentalsys.EPERM {
		t.Errorf("os.Root's escape error %v: errno %v, want EPERM", err, rootErrno(err))
	}
}

func TestRootFileOperations(t *testing.T) {
	d, data := newTestRootDir(t)
	f, errno := d.OpenFile("f", experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0)
	errnoIs(t, "create", errno, 0)
	if st, err := os.Stat(filepath.Join(data, "f")); err != nil || st.Mode().Perm() != 0o666&^umask() {
		t.Errorf("created file: %v %v, want 0666 less the umask", st.Mode(), err)
	}
	if n, errno := f.Write([]byte("hello world")); n != 11 || errno != 0 {
		t.Fatalf("write: %d %v", n, errno)
	}
	buf := make([]byte, 5)
	if n, errno := f.Pread(buf, 6); n != 5 || errno != 0 || string(buf) != "world" {
		t.Errorf("pread: %d %v %q", n, errno, buf)
	}
	if off, errno := f.Seek(0, io.SeekStart); off != 0 || errno != 0 {
		t.Errorf("seek: %d %v", off, errno)
	}
	if n, errno := f.Read(buf); n != 5 || errno != 0 || string(buf) != "hello" {
		t.Errorf("read after seek: %d %v %q", n, errno, buf)
	}
	errnoIs(t, "truncate", f.Truncate(5), 0)
	if st, errno := f.Stat(); errno != 0 || st.Size != 5 || !st.Mode.IsRegular() {
		t.Errorf("stat after truncate: %+v %v", st, errno)
	}
	errnoIs(t, "set append", f.SetAppend(true), 0)
	if !f.IsAppend() {
		t.Error("IsAppend after SetAppend(true) is false")
	}
	f.Seek(0, io.SeekStart)
	f.Write([]byte("!"))
	if b, _ := os.ReadFile(filepath.Join(data, "f")); string(b) != "hello!" {
		t.Errorf("write in append mode: file is %q, want %q", b, "hello!")
	}
	errnoIs(t, "sync", f.Sync(), 0)
	errnoIs(t, "datasync", f.Datasync(), 0)
	when := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	errnoIs(t, "utimens", f.Utimens(experimentalsys.UTIME_OMIT, when), 0)
	if st, _ := os.Stat(filepath.Join(data, "f")); st.ModTime().UnixNano() != when {
		t.Errorf("mtime %v after utimens, want %v", st.ModTime(), time.Unix(0, when))
	}
	pf := f.(experimentalsys.PollableFile)
	errnoIs(t, "set nonblock", pf.SetNonblock(true), 0)
	if !pf.IsNonblock() {
		t.Error("IsNonblock after SetNonblock(true) is false")
	}
	errnoIs(t, "close", f.Close(), 0)
	errnoIs(t, "close twice", f.Close(), 0)
	if _, errno := f.Read(buf); errno != experimentalsys.EBADF {
		t.Errorf("read after close: %v, want EBADF", errno)
	}
}

func TestRootDirOperations(t *testing.T) {
	d, data := newTestRootDir(t)
	errnoIs(t, "mkdir", d.Mkdir("sub", 0o700), 0)
	if st, _ := os.Stat(filepath.Join(data, "sub")); st.Mode().Perm() != 0o777&^umask() {
		t.Errorf("made folder %v, want 0777 less the umask", st.Mode())
	}
	for _, n := range []string{"a", "b"} {
		f, _ := d.OpenFile("sub/"+n, experimentalsys.O_WRONLY|experimentalsys.O_CREAT, 0)
		f.Close()
	}
	dir, errno := d.OpenFile("sub", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	errnoIs(t, "open dir", errno, 0)
	names := func() (out []string) {
		ents, errno := dir.Readdir(-1)
		errnoIs(t, "readdir", errno, 0)
		for _, e := range ents {
			if e.Ino == 0 {
				t.Errorf("entry %s has no inode", e.Name)
			}
			out = append(out, e.Name)
		}
		return out
	}
	if got := names(); len(got) != 2 {
		t.Errorf("readdir: %v, want a and b", got)
	}
	if got := names(); len(got) != 0 {
		t.Errorf("readdir again: %v, want nothing more", got)
	}
	dir.Seek(0, io.SeekStart) // rewinddir, as fd_readdir with cookie 0
	if got := names(); len(got) != 2 {
		t.Errorf("readdir after rewind: %v, want a and b", got)
	}
	if isDir, _ := dir.IsDir(); !isDir {
		t.Error("IsDir of a folder is false")
	}
	dir.Close()

	errnoIs(t, "unlink a folder", d.Unlink("sub"), experimentalsys.EISDIR)
	errnoIs(t, "rmdir a file", d.Rmdir("sub/a"), experimentalsys.ENOTDIR)
	errnoIs(t, "rmdir non-empty", d.Rmdir("sub"), experimentalsys.ENOTEMPTY)
	errnoIs(t, "rename", d.Rename("sub/a", "c"), 0)
	errnoIs(t, "link", d.Link("c", "sub/hard"), 0)
	errnoIs(t, "symlink", d.Symlink("../c", "sub/ln"), 0)
	if got, errno := d.Readlink("sub/ln"); got != "../c" || errno != 0 {
		t.Errorf("readlink: %q %v", got, errno)
	}
	if st, errno := d.Lstat("sub/ln"); errno != 0 || st.Mode&fs.ModeSymlink == 0 {
		t.Errorf("lstat of a link: %v %v", st.Mode, errno)
	}
	if st, errno := d.Stat("sub/ln"); errno != 0 || !st.Mode.IsRegular() {
		t.Errorf("stat through a link: %v %v", st.Mode, errno)
	}
	_, errno = d.OpenFile("sub/ln", experimentalsys.O_RDONLY|experimentalsys.O_NOFOLLOW, 0)
	errnoIs(t, "open a link with O_NOFOLLOW", errno, experimentalsys.ELOOP)
	errnoIs(t, "symlink out", d.Symlink("../../secret", "sub/out"), experimentalsys.EPERM)
	errnoIs(t, "symlink absolute", d.Symlink("/etc", "abs"), experimentalsys.EPERM)
	errnoIs(t, "utimens", d.Utimens("c", time.Now().UnixNano(), experimentalsys.UTIME_OMIT), 0)
	for _, p := range []string{"sub/a", "sub/b", "sub/hard", "sub/ln"} {
		d.Unlink(p)
	}
	errnoIs(t, "rmdir", d.Rmdir("sub"), 0)
	errnoIs(t, "rmdir the grant", d.Rmdir("."), experimentalsys.EINVAL)
}

// TestRootDirConcurrentUse: the instances of a plugin share its grants'
// rootDirs, and open the root on first use from any of them.
func TestRootDirConcurrentUse(t *testing.T) {
	d, data := newTestRootDir(t)
	os.WriteFile(filepath.Join(data, "f"), []byte("shared"), 0o644)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 16)
			for i := 0; i < 50; i++ {
				f, errno := d.OpenFile("f", experimentalsys.O_RDONLY, 0)
				if errno != 0 {
					t.Error(errno)
					return
				}
				if n, _ := f.Read(buf); string(buf[:n]) != "shared" {
					t.Errorf("read %q", buf[:n])
				}
				f.Close()
			}
		}()
	}
	wg.Wait()
}

// TestReadOnlyRootDir: a read-only grant refuses writes with EROFS.
func TestReadOnlyRootDir(t *testing.T) {
	_, data := newTestRootDir(t)
	os.WriteFile(filepath.Join(data, "f"), []byte("x"), 0o644)
	ro := readOnlyDir{&sysfs.ReadFS{FS: newRootDir(data)}}
	_, errno := ro.OpenFile("f", experimentalsys.O_WRONLY, 0)
	errnoIs(t, "open for writing", errno, experimentalsys.EROFS)
	errnoIs(t, "symlink", ro.Symlink("f", "ln"), experimentalsys.EROFS)
	f, errno := ro.OpenFile("f", experimentalsys.O_RDONLY, 0)
	errnoIs(t, "open for reading", errno, 0)
	if _, errno := f.Write([]byte("y")); errno == 0 {
		t.Error("a write to a file of a read-only grant succeeded")
	}
}

// umask is the process's file creation mask.
func umask() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(m)
}

// BenchmarkGuestFileOpenRead is what a guest's os.ReadFile of a 4 KiB file
// costs the host, through the rootDir that resolves it and through wazero's
// DirFS, which joined paths and let the kernel follow links (the folder
// 1 and 5 levels down).
func BenchmarkGuestFileOpenRead(b *testing.B) {
	dir := b.TempDir()
	deep := filepath.Join(dir, "a", "b", "c", "d")
	os.MkdirAll(deep, 0o755)
	for _, p := range []string{dir, deep} {
		os.WriteFile(filepath.Join(p, "f"), make([]byte, 4096), 0o644)
	}
	buf := make([]byte, 8192)
	for _, fsys := range []struct {
		name string
		fs   experimentalsys.FS
	}{{"os.Root", newRootDir(dir)}, {"DirFS", sysfs.DirFS(dir)}} {
		for _, p := range []string{"f", "a/b/c/d/f"} {
			b.Run(fsys.name+"/"+p, func(b *testing.B) {
				for b.Loop() {
					f, errno := fsys.fs.OpenFile(p, experimentalsys.O_RDONLY, 0)
					if errno != 0 {
						b.Fatal(errno)
					}
					f.Stat()
					f.Read(buf)
					f.Close()
				}
			})
		}
	}
}

//go:build wasip1

// Command fsattack tries to leave the folders it is granted, for the
// host's red-team tests: each request performs one file operation, named by
// ?op=, and answers "ok RESULT" or "err ERRNO" (the errno's name, as
// EPERM), status 200 either way. Operations through Go's os package get
// the paths cleaned by the Go runtime; the raw-* ones call WASI directly
// with the path as given ("..", absolute and overlong paths included),
// relative to the preopen of ?dir=.
//
//	op=read&path=P               the file's contents
//	op=write&path=P&data=D       create or truncate, then write D
//	op=append&path=P&data=D      append D (created if missing)
//	op=symlink&target=T&path=P   P becomes a symlink to T
//	op=link&old=O&path=P         P becomes a hard link to O
//	op=rename&old=O&path=P       O moves to P
//	op=remove&path=P, op=rmdir&path=P, op=mkdir&path=P, op=mkdirall&path=P
//	op=readdir&path=P            the names, sorted, comma-separated
//	op=readlink&path=P, op=stat&path=P, op=lstat&path=P (the file's size and type)
//	op=loop&path=P&n=N           reads P N times; answers each distinct outcome with its count
//	&rep=S&times=N               S repeated N times before the path (a symlink's target)
//	op=raw-open&dir=D&path=P     path_open + fd_read, relative to D's preopen
//	op=raw-link&dir=D&old=O&path=P, op=raw-rename&dir=D&old=O&path=P
//	op=raw-unlink&dir=D&path=P, op=raw-rmdir&dir=D&path=P
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		res, err := run(q.Get("op"), q)
		if err != nil {
			fmt.Fprintf(w, "err %s\n", errnoName(err))
			return
		}
		fmt.Fprintf(w, "ok %s\n", res)
	}))
}

func main() {}

func run(op string, q map[string][]string) (string, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	p, target := get("path"), get("target")
	// times=N repeats rep N times in front of the target of a symlink, or
	// else of the path: paths longer than a request line may be.
	if n, _ := strconv.Atoi(get("times")); n > 0 {
		if op == "symlink" {
			target = strings.Repeat(get("rep"), n) + target
		} else {
			p = strings.Repeat(get("rep"), n) + p
		}
	}
	switch op {
	case "read":
		b, err := os.ReadFile(p)
		return string(b), err
	case "write":
		return "", os.WriteFile(p, []byte(get("data")), 0o644)
	case "append":
		return "", appendTo(p, get("data"))
	case "symlink":
		return "", os.Symlink(target, p)
	case "link":
		return "", os.Link(get("old"), p)
	case "rename":
		return "", os.Rename(get("old"), p)
	case "remove":
		return "", syscall.Unlink(p)
	case "rmdir":
		return "", syscall.Rmdir(p)
	case "mkdir":
		return "", os.Mkdir(p, 0o755)
	case "mkdirall":
		return "", os.MkdirAll(p, 0o755)
	case "readdir":
		return readdir(p)
	case "readlink":
		return os.Readlink(p)
	case "stat", "lstat":
		return stat(op, p)
	case "loop":
		n, _ := strconv.Atoi(get("n"))
		return loop(p, n), nil
	}
	if strings.HasPrefix(op, "raw-") {
		return raw(op, get("dir"), get("old"), p)
	}
	return "", fmt.Errorf("unknown op %q", op)
}

func appendTo(p, data string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readdir(p string) (string, error) {
	es, err := os.ReadDir(p)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return strings.Join(names, ","), err
}

func stat(op, p string) (string, error) {
	var fi fs.FileInfo
	var err error
	if op == "stat" {
		fi, err = os.Stat(p)
	} else {
		fi, err = os.Lstat(p)
	}
	if err != nil {
		return "", err
	}
	kind := "file"
	switch {
	case fi.IsDir():
		kind = "dir"
	case fi.Mode()&fs.ModeSymlink != 0:
		kind = "symlink"
	}
	return fmt.Sprintf("%d %s", fi.Size(), kind), nil
}

// loop reads p n times, as a guest racing the host's changes to the
// folder would, and counts each distinct outcome.
func loop(p string, n int) string {
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		b, err := os.ReadFile(p)
		if err != nil {
			seen["err "+errnoName(err)]++
		} else {
			seen["ok "+string(b)]++
		}
	}
	var out []string
	for k, v := range seen {
		out = append(out, fmt.Sprintf("%d×%s", v, k))
	}
	sort.Strings(out)
	return strings.Join(out, ";")
}

// errnoName names the errno behind err, or gives its text.
func errnoName(err error) string {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return err.Error()
	}
	for name, v := range errnos {
		if v == e {
			return name
		}
	}
	return "errno" + strconv.Itoa(int(e))
}

var errnos = map[string]syscall.Errno{
	"EACCES": syscall.EACCES, "EPERM": syscall.EPERM, "EXDEV": syscall.EXDEV,
	"EROFS": syscall.EROFS, "ENOENT": syscall.ENOENT, "ENOTDIR": syscall.ENOTDIR,
	"EISDIR": syscall.EISDIR, "ELOOP": syscall.ELOOP, "ENAMETOOLONG": syscall.ENAMETOOLONG,
	"ENOSYS": syscall.ENOSYS, "EBADF": syscall.EBADF, "EEXIST": syscall.EEXIST,
	"EINVAL": syscall.EINVAL, "ENOTEMPTY": syscall.ENOTEMPTY, "ENOTCAPABLE": syscall.ENOTCAPABLE,
	"EFAULT": syscall.EFAULT, "EIO": syscall.EIO, "ENOTSUP": syscall.ENOTSUP,
}

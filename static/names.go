package static

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// maxNameLen bounds the names looked up: no file system accepts longer
// paths (PATH_MAX is 4096 on Linux), and it keeps hostile requests cheap.
const maxNameLen = 4096

// checkName decides whether name, a path relative to the root taken from a
// decoded URL path, may be looked up at all. It returns 0 when it may, or the
// status to answer with: 403 for "." and ".." segments (an explicit attempt
// to leave the folder, as Tornado answers), 404 for everything else that
// cannot name a servable file.
//
// These rules come before the file system is touched, and os.Root then
// enforces the same boundary again at every path component, symbolic links
// included; neither layer relies on the other.
func checkName(name string) int {
	if name == "" || len(name) > maxNameLen {
		return http.StatusNotFound
	}
	// NUL ends a C string: "a.css\x00.png" must not reach a system call
	// that might see "a.css". A backslash is a separator on Windows and
	// never a legitimate part of a web asset's name.
	if strings.ContainsAny(name, "\x00\\") {
		return http.StatusNotFound
	}
	status := 0
	for seg := range strings.SplitSeq(name, "/") {
		switch {
		case seg == "." || seg == "..":
			return http.StatusForbidden
		case seg == "":
			// "a//b", a leading or a trailing "/": a name has no empty
			// segments, and "css/" is a folder, which is never listed.
			status = http.StatusNotFound
		case seg[0] == '.':
			// Hidden files (.git, .env, .htpasswd) are not assets; keep
			// them private even when a deployment copies them along.
			status = http.StatusNotFound
		}
	}
	if status == 0 && !filepath.IsLocal(filepath.FromSlash(name)) {
		// Belt and braces for platforms with reserved names (NUL, CON on
		// Windows); on Unix the rules above already imply it.
		status = http.StatusNotFound
	}
	return status
}

// hasEncodedSeparator reports whether the raw (still escaped) path has an
// escaped "/" or "\". Decoding would turn "css%2f..%2fsecret" into
// "css/../secret" behind the back of any check made on the raw form, and a
// name that needs them does not exist among web assets, so such requests are
// refused outright.
func hasEncodedSeparator(rawPath string) bool {
	for i := 0; i+2 < len(rawPath); i++ {
		if rawPath[i] != '%' {
			continue
		}
		switch rawPath[i+1 : i+3] {
		case "2f", "2F", "5c", "5C":
			return true
		}
	}
	return false
}

// openFile opens name below root for reading and returns it with its
// FileInfo. It returns a status instead when the name is not a regular file
// that may be served: 404 for a missing file, a folder, a device or FIFO, or
// a symbolic link that leads outside the root (os.Root refuses those, and
// absolute link targets); 403 when the operating system denies access.
//
// The type is checked with a stat before the open so that a FIFO placed in
// the folder cannot block a request forever in open(2); the FileInfo
// returned is that of the open file, so what is served and what was checked
// cannot be two different files.
func (h *Handler) openFile(root *os.Root, name string) (*os.File, fs.FileInfo, int) {
	fi, err := root.Stat(name)
	if err != nil {
		return nil, nil, h.statusForError(name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, http.StatusNotFound
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, nil, h.statusForError(name, err)
	}
	if h.onOpen != nil {
		h.onOpen(f)
	}
	fi, err = f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, nil, h.statusForError(name, err)
		}
		return nil, nil, http.StatusNotFound
	}
	return f, fi, 0
}

// statusForError maps a failed lookup to a status. The error itself (which
// names the path) goes only to the debug log, never into a response.
func (h *Handler) statusForError(name string, err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		h.log.Debug("static file not readable", "name", name, "error", err)
		return http.StatusForbidden
	}
	// ENOTDIR ("a.css/x"), ELOOP, and os.Root's "path escapes from
	// parent" for a symbolic link that leads outside the root. Logged at
	// debug only: a client can produce these at will.
	h.log.Debug("static file lookup failed", "name", name, "error", err)
	return http.StatusNotFound
}

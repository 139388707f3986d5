package static

import (
	"cmp"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// immutable is the Cache-Control of a request whose v names the current
// content: it can never change, so caches keep it a year (the most RFC 9111
// recommends) and browsers do not revalidate it even on reload.
const immutable = "public, max-age=31536000, immutable"

// revalidate is the Cache-Control of every other successful response. It
// is explicit because without it caches may invent a freshness lifetime
// from Last-Modified (RFC 9111 4.2.2) and serve an edited file stale.
const revalidate = "no-cache"

// ServeHTTP serves a request that Matches accepted: GET and HEAD of a
// regular file below the root, with conditional requests, a single byte
// range, and content codings as described in the package documentation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	head := r.Method == http.MethodHead
	if r.Method != http.MethodGet && !head {
		w.Header().Set("Allow", "GET, HEAD")
		plainError(w, http.StatusMethodNotAllowed, false)
		return
	}
	name, status := h.requestName(r)
	if status != 0 {
		plainError(w, status, head)
		return
	}
	root, err := os.OpenRoot(h.root)
	if err != nil {
		h.warn("static folder cannot be opened: "+unwrapPath(err).Error(), "")
		plainError(w, http.StatusNotFound, head)
		return
	}
	defer root.Close()
	f, fi, status := h.openFile(root, name)
	if status != 0 {
		plainError(w, status, head)
		return
	}
	defer f.Close()
	sum, err := h.contentHash(name, f, fi)
	if err != nil {
		h.log.Error("static file cannot be read", "name", name, "error", err)
		plainError(w, http.StatusInternalServerError, head)
		return
	}
	h.serveFile(w, r, root, name, f, fi, sum)
}

// requestName is the name below the root that the request asks for, or the
// status to answer with.
func (h *Handler) requestName(r *http.Request) (string, int) {
	p := r.URL.Path
	var name string
	switch {
	case strings.HasPrefix(p, h.prefix):
		name = p[len(h.prefix):]
	case len(p) > 1 && p[0] == '/' && h.isRootFile(p[1:]):
		name = p[1:]
	default:
		return "", http.StatusNotFound
	}
	if hasEncodedSeparator(r.URL.RawPath) {
		return "", http.StatusNotFound
	}
	if status := checkName(name); status != 0 {
		return "", status
	}
	return name, 0
}

func (h *Handler) isRootFile(name string) bool {
	_, ok := h.rootFiles[name]
	return ok
}

// serveFile answers for the open regular file f whose content hash is sum.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, root *os.Root, name string, f *os.File, fi fs.FileInfo, sum string) {
	head := r.Method == http.MethodHead
	now := h.now()
	size := fi.Size()
	mt := typeOf(name)
	identityTag := `"` + sum + `"`
	// RFC 9110 8.8.2.1: a Last-Modified in the future (a clock that was
	// wrong when the file was written) is replaced by the current time.
	lastMod := fi.ModTime()
	if lastMod.After(now) {
		lastMod = now
	}
	lastMod = lastMod.Truncate(time.Second)

	// Ranges apply to the identity representation only: a range of a
	// compressed body would depend on the compressor, and a client that
	// resumes a download must get bytes of what it started with.
	var br byteRange
	rr := rangeIgnore
	if rh := r.Header.Get("Range"); rh != "" && ifRangeAllows(r, identityTag, lastMod) {
		br, rr = parseRange(rh, size)
	}

	enc, body, bodySize := identity, f, size
	if rr == rangeIgnore && mt.compressible {
		var sib *os.File
		enc, sib, bodySize = h.negotiate(r, root, name, fi)
		if sib != nil {
			defer sib.Close()
			body = sib
		}
	}
	etag := identityTag
	if enc != identity {
		etag = `"` + sum + enc.tagSuffix + `"`
	}

	hdr := w.Header()
	hdr.Set("ETag", etag)
	if mt.compressible {
		// Set whatever this request's Accept-Encoding: a cache must know
		// that another request may get another body.
		hdr.Set("Vary", "Accept-Encoding")
	}
	if v := queryV(r.URL.RawQuery); v != "" && v == sum {
		hdr.Set("Cache-Control", immutable)
		hdr.Set("Expires", now.Add(365*24*time.Hour).UTC().Format(http.TimeFormat))
	} else {
		hdr.Set("Cache-Control", revalidate)
	}

	switch evalPreconditions(r, etag, lastMod) {
	case notModified:
		// RFC 9110 15.4.5: the validators and caching headers a 200 would
		// have, and no representation metadata or body.
		w.WriteHeader(http.StatusNotModified)
		return
	case failed:
		plainError(w, http.StatusPreconditionFailed, head)
		return
	}

	hdr.Set("Last-Modified", lastMod.UTC().Format(http.TimeFormat))
	hdr.Set("Content-Type", mt.contentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Accept-Ranges", "bytes")

	switch {
	case rr == rangeUnsatisfiable:
		clearFileHeaders(hdr)
		hdr.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		writePlain(w, http.StatusRequestedRangeNotSatisfiable, head)
		return
	case rr == rangeOK:
		hdr.Set("Content-Range", br.contentRange(size))
		hdr.Set("Content-Length", strconv.FormatInt(br.length, 10))
		w.WriteHeader(http.StatusPartialContent)
		if !head {
			copyFile(w, f, br.start, br.length)
		}
		return
	}

	if enc.name != "" {
		hdr.Set("Content-Encoding", enc.name)
	}
	if bodySize < 0 {
		serveGzip(w, head, io.NewSectionReader(f, 0, size), size)
		return
	}
	hdr.Set("Content-Length", strconv.FormatInt(bodySize, 10))
	w.WriteHeader(http.StatusOK)
	if !head {
		copyFile(w, body, 0, bodySize)
	}
}

// negotiate chooses the content coding of a full response of a
// compressible file: a precompressed sibling (name.br, name.gz) when the
// client accepts its coding, else gzip on the fly for a file of a
// worthwhile size, else identity. The acceptable coding with the highest
// q-value wins; ties go to br, then gzip, then identity. It returns the
// opened sibling, if one is to be sent, and the body's size (-1 for gzip on
// the fly).
func (h *Handler) negotiate(r *http.Request, root *os.Root, name string, fi fs.FileInfo) (coding, *os.File, int64) {
	acc := parseAcceptEncoding(r.Header.Values("Accept-Encoding"))
	type offer struct {
		enc coding
		q   float64
	}
	// In order of preference, then stably by q-value, highest first.
	order := []offer{{brotli, acc.br}, {gzipped, acc.gzip}, {identity, acc.identity}}
	slices.SortStableFunc(order, func(a, b offer) int { return cmp.Compare(b.q, a.q) })
	for _, c := range order {
		if c.q <= 0 {
			break
		}
		if c.enc == identity {
			return identity, nil, fi.Size()
		}
		if sib, sfi := h.openSibling(root, name, c.enc, fi); sib != nil {
			return c.enc, sib, sfi.Size()
		}
		if c.enc == gzipped && fi.Size() > minCompressSize && fi.Size() <= maxCompressSize {
			return gzipped, nil, -1
		}
	}
	// Nothing acceptable is available: RFC 9110 12.5.3 allows answering
	// with identity anyway, which is more useful than a 406 page.
	return identity, nil, fi.Size()
}

// openSibling opens the precompressed sibling name+enc.fileExt if it is a
// regular file at least as new as the original. An older sibling was made
// from an older version of the file: serving it would undo an edit for
// every client that accepts the coding, so it is ignored (with a warning)
// until it is rebuilt.
func (h *Handler) openSibling(root *os.Root, name string, enc coding, orig fs.FileInfo) (*os.File, fs.FileInfo) {
	sib := name + enc.fileExt
	fi, err := root.Stat(sib)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil
	}
	if fi.ModTime().Before(orig.ModTime()) {
		h.warn("precompressed file is older than its original; serving without it", sib)
		return nil, nil
	}
	f, fi, status := h.openFile(root, sib)
	if status != 0 {
		return nil, nil
	}
	return f, fi
}

// copyFile sends n bytes of f from offset start. It copies from the
// *os.File itself so that net/http can use sendfile(2). A copy that ends
// short (the file was truncated while being served, or the client went
// away) aborts the response, so that it can never look complete with fewer
// bytes than its Content-Length promised.
func copyFile(w http.ResponseWriter, f *os.File, start, n int64) {
	if start != 0 {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
	if written, _ := io.CopyN(w, f, n); written < n {
		panic(http.ErrAbortHandler)
	}
}

// queryV returns the v parameter of a raw query, or "".
func queryV(rawQuery string) string {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		if v, ok := strings.CutPrefix(kv, "v="); ok {
			if u, err := url.QueryUnescape(v); err == nil {
				return u
			}
			return ""
		}
	}
	return ""
}

// plainError answers with a short text page. It removes the headers that
// described the file (validators, caching, coding) so that an error is
// never cached as if it were the file, and never names a file system path.
func plainError(w http.ResponseWriter, status int, head bool) {
	clearFileHeaders(w.Header())
	writePlain(w, status, head)
}

func clearFileHeaders(hdr http.Header) {
	for _, k := range []string{"ETag", "Last-Modified", "Cache-Control", "Expires", "Content-Encoding", "Content-Range", "Content-Length", "Accept-Ranges", "Vary"} {
		hdr.Del(k)
	}
}

// writePlain writes the text page of status. It is not cacheable: the file
// may appear, or the request be fixed, at any moment.
func writePlain(w http.ResponseWriter, status int, head bool) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	msg := strconv.Itoa(status) + " " + strings.ToLower(http.StatusText(status)) + "\n"
	hdr.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	if !head {
		io.WriteString(w, msg)
	}
}

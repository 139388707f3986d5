package static

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

const (
	// minCompressSize: below this, gzip's 18-byte frame and the CPU cost
	// outweigh the saving (nginx's gzip_min_length defaults to 20 bytes,
	// Cloudflare's to 1 KiB... for dynamic responses; static assets this
	// small are mostly icons and tiny scripts).
	minCompressSize = 1 << 10

	// maxCompressSize bounds on-the-fly compression. Compression streams,
	// so memory does not depend on the file's size, but CPU does; larger
	// files should ship with precompressed siblings (x.js.br, x.js.gz).
	maxCompressSize = 16 << 20

	// heldSize is how much compressed output is held back before the
	// headers are sent: a body that fits gets a Content-Length, a longer
	// one is streamed (chunked in HTTP/1.1).
	heldSize = 64 << 10
)

// accepted holds the q-values a request gives the codings this package can
// produce. A q-value of 0 means "not acceptable".
type accepted struct {
	br, gzip, identity float64
}

// parseAcceptEncoding reads Accept-Encoding (all of its values). With no
// header, only identity is used: RFC 9110 allows any coding then, but a
// client that did not ask might not decode one. "*" gives its q-value to
// the codings not named; identity is acceptable unless excluded by name
// or by "*;q=0".
func parseAcceptEncoding(values []string) accepted {
	a := accepted{identity: 1}
	if len(values) == 0 {
		return a
	}
	const unset = -1
	br, gz, id, star := float64(unset), float64(unset), float64(unset), float64(unset)
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			q, ok := qValue(params)
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "br":
				br = max(br, q)
			case "gzip", "x-gzip":
				gz = max(gz, q)
			case "identity":
				id = max(id, q)
			case "*":
				star = max(star, q)
			}
		}
	}
	pick := func(q float64, dflt float64) float64 {
		switch {
		case q != unset:
			return q
		case star != unset:
			return star
		}
		return dflt
	}
	return accepted{br: pick(br, 0), gzip: pick(gz, 0), identity: pick(id, 1)}
}

// qValue reads the "q=" parameter of an Accept-Encoding element (1 when
// absent); ok is false for a malformed one, and the element is skipped.
func qValue(params string) (float64, bool) {
	params = strings.TrimSpace(params)
	if params == "" {
		return 1, true
	}
	name, val, ok := strings.Cut(params, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
		return 1, true // an unknown parameter; the q-value is the default
	}
	q, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
	if err != nil || q < 0 || q > 1 {
		return 0, false
	}
	return q, true
}

// coding is a content coding of a response, and the suffix it adds to the
// identity entity tag and to the file name of a precompressed sibling.
type coding struct {
	name      string // Content-Encoding value; "" for identity
	tagSuffix string // "-br", "-gz", ""
	fileExt   string // ".br", ".gz", ""
}

var (
	identity = coding{}
	brotli   = coding{"br", "-br", ".br"}
	gzipped  = coding{"gzip", "-gz", ".gz"}
)

// gzipWriters are reused: a compress/flate writer is several hundred KiB
// of tables, too much to allocate per response.
var gzipWriters sync.Pool

// heldBufs are the buffers of heldWriter.
var heldBufs = sync.Pool{New: func() any { b := make([]byte, 0, heldSize); return &b }}

// errHeadKnown stops compressing for a HEAD request once it is known that
// the body would not fit in the held buffer (see serveGzip).
var errHeadKnown = errors.New("static: HEAD response needs no more output")

// heldWriter sits between the gzip writer and the response: it holds back
// up to heldSize bytes so that a response which fits gets an exact
// Content-Length, and commits the headers (without one) once it would not.
// For HEAD it writes nothing, so that HEAD gets exactly GET's headers.
type heldWriter struct {
	w         http.ResponseWriter
	buf       []byte
	head      bool
	committed bool
}

func (hw *heldWriter) Write(p []byte) (int, error) {
	if hw.committed {
		return hw.w.Write(p)
	}
	if len(hw.buf)+len(p) <= cap(hw.buf) {
		hw.buf = append(hw.buf, p...)
		return len(p), nil
	}
	hw.committed = true
	hw.w.WriteHeader(http.StatusOK)
	if hw.head {
		return 0, errHeadKnown
	}
	if _, err := hw.w.Write(hw.buf); err != nil {
		return 0, err
	}
	return hw.w.Write(p)
}

// finish sends what is held, with its length, if nothing was sent yet.
func (hw *heldWriter) finish() error {
	if hw.committed {
		return nil
	}
	hw.committed = true
	hw.w.Header().Set("Content-Length", strconv.Itoa(len(hw.buf)))
	hw.w.WriteHeader(http.StatusOK)
	if hw.head {
		return nil
	}
	_, err := hw.w.Write(hw.buf)
	return err
}

// serveGzip sends size bytes of src gzip-compressed as a 200 response,
// whose other headers are already set. HEAD requests compress too, but only
// until the held buffer overflows, so their Content-Length (present or
// absent) is GET's: a HEAD of a large file costs at most ~64 KiB of output.
//
// A read error (the file shrank) after the headers went out aborts the
// response (http.ErrAbortHandler) so that the client sees a broken
// transfer, never a short body that ends like a complete one.
func serveGzip(w http.ResponseWriter, head bool, src io.Reader, size int64) {
	bp := heldBufs.Get().(*[]byte)
	defer heldBufs.Put(bp)
	hw := &heldWriter{w: w, buf: (*bp)[:0], head: head}

	zw, _ := gzipWriters.Get().(*gzip.Writer)
	if zw == nil {
		zw = gzip.NewWriter(hw)
	} else {
		zw.Reset(hw)
	}
	defer func() {
		zw.Reset(io.Discard) // do not keep the response alive in the pool
		gzipWriters.Put(zw)
	}()

	cb := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(cb)
	rr := &recordingReader{r: io.LimitReader(src, size)}
	n, err := io.CopyBuffer(zw, rr, *cb)
	switch {
	case rr.err != nil || err == nil && n < size:
		// The file could not be read to the end: never let that look
		// like a complete response.
		if hw.committed {
			panic(http.ErrAbortHandler)
		}
		plainError(w, http.StatusInternalServerError, head)
	case err != nil:
		// HEAD knows enough, or the client went away.
	default:
		if zw.Close() == nil {
			hw.finish()
		}
	}
}

// recordingReader keeps the error of a failed read, so that a failed copy
// can be told apart from a failed write (a client that went away).
type recordingReader struct {
	r   io.Reader
	err error
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && err != io.EOF {
		rr.err = err
	}
	return n, err
}

package sdk

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wasmhost/wasmhost/abi"
)

// errHandlerDone is what a ResponseWriter kept past its handler's return
// reports; net/http forbids that use too.
var errHandlerDone = errors.New("sdk: ResponseWriter used after the handler returned")

// errResponseRejected is what Write reports after the host refused the
// status or headers and the SDK sent a 500 instead.
var errResponseRejected = errors.New("sdk: response replaced by a 500: the host rejected its status or headers")

// responseWriter is the http.ResponseWriter handed to handlers. The status
// and headers are encoded when the status is fixed (WriteHeader or the first
// Write), which gives net/http's rule that later header changes have no
// effect, but sent with start_response only when there is something to emit:
// then the Content-Type can be sniffed from the body.
type responseWriter struct {
	host   host
	header http.Header
	out    []byte // body written but not yet handed to the host (outBuf)
	hdr    []byte // encoded headers (hdrBuf)

	status        int
	wroteHeader   bool  // status fixed
	started       bool  // start_response called
	sniff         bool  // add a sniffed Content-Type at start
	noBody        bool  // status forbids a body (204, 304)
	contentLength int64 // declared by the handler, or -1
	written       int64
	err           error  // sticky: no more output will reach the client
	done          bool   // the handler has returned
	mount         string // SCRIPT_NAME: what a Location gets in front (see mountedLocation)
	// req is the request's context, cancelled when a host call says the
	// client went away; nil in tests that make a writer alone.
	req *environContext
}

// respHeader is the response header map, cleared and reused from request
// to request: in wasm, allocating a map costs about a microsecond.
var respHeader http.Header

func (w *responseWriter) Header() http.Header {
	if w.header == nil {
		if w.done {
			// A stale writer must not touch the next request's map.
			return make(http.Header)
		}
		if respHeader == nil {
			respHeader = make(http.Header)
		}
		clear(respHeader)
		w.header = respHeader
	}
	return w.header
}

func (w *responseWriter) WriteHeader(code int) {
	if w.done {
		return
	}
	if w.wroteHeader {
		w.host.log(abi.LogWarn, "sdk: superfluous WriteHeader call (status "+strconv.Itoa(code)+")")
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 {
		return // informational responses cannot cross the ABI
	}
	w.wroteHeader = true
	w.status = code
	w.noBody = code == http.StatusNoContent || code == http.StatusNotModified

	_, haveType := w.header["Content-Type"]
	_, haveTE := w.header["Transfer-Encoding"]
	w.sniff = !haveType && !haveTE && !w.noBody && w.header.Get("Content-Encoding") == ""
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil && n >= 0 {
			w.contentLength = n
		}
	}
	w.hdr = w.hdr[:0]
	for k, vs := range w.header {
		for _, v := range vs {
			if k == "Location" && w.mount != "" {
				v = mountedLocation(w.mount, v)
			}
			w.hdr = abi.AppendPair(w.hdr, k, v)
		}
	}
}

// mountedLocation puts the plugin's mount in front of a Location that is
// an absolute path within the plugin. A handler sees r.URL.Path without
// the mount (as after http.StripPrefix), so what it builds from it, and
// what http.Redirect, http.ServeMux ("/dir" to "/dir/") and routers make
// of it, lacks the mount: under mount "/api" a redirect to "/notes/" would
// leave the plugin. Left alone, so that a handler can always say exactly
// where to go:
//   - an absolute URL ("https://example.com/x") or a scheme-relative one
//     ("//example.com/x"; "/\" too, which browsers read the same way);
//   - a relative reference ("notes/", "?page=2"), which the browser
//     resolves against the URL it asked for, mount included;
//   - a path that already begins with the mount ("/api", "/api/notes/",
//     "/api?x"): the router knew the mount (gin from X-Forwarded-Prefix),
//     or the handler wrote it. So a redirect elsewhere on the site from
//     a plugin mounted at "/api" is written as a full URL.
func mountedLocation(mount, loc string) string {
	if loc == "" || loc[0] != '/' || len(loc) > 1 && (loc[1] == '/' || loc[1] == '\\') {
		return loc
	}
	if rest, ok := strings.CutPrefix(loc, mount); ok && (rest == "" || rest[0] == '/' || rest[0] == '?' || rest[0] == '#') {
		return loc
	}
	return mount + loc
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if err := w.prepare(len(p)); err != nil || len(p) == 0 {
		return 0, err
	}
	return w.write(p)
}

// WriteString spares io.WriteString callers a copy of s.
func (w *responseWriter) WriteString(s string) (int, error) {
	if err := w.prepare(len(s)); err != nil || len(s) == 0 {
		return 0, err
	}
	// The bytes are only ever read: copied into out or by the host.
	return w.write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// ready is what every write and flush checks first: the handler is still
// running, no earlier error stopped the response, and a status is set (200
// unless the handler chose one), as in net/http.
func (w *responseWriter) ready() error {
	if w.done {
		return errHandlerDone
	}
	if w.err == nil && w.req != nil && w.req.requestCanceled() {
		// A host call elsewhere (next_wait, a body read) said the client
		// went away: nothing written now would reach it.
		w.err = ErrClientGone
	}
	if w.err != nil {
		return w.err
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// prepare applies net/http's checks for a write of n bytes.
func (w *responseWriter) prepare(n int) error {
	if err := w.ready(); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if w.noBody {
		return http.ErrBodyNotAllowed
	}
	if w.contentLength >= 0 && w.written+int64(n) > w.contentLength {
		return http.ErrContentLength
	}
	w.written += int64(n)
	return nil
}

func (w *responseWriter) write(p []byte) (int, error) {
	if len(p) <= cap(w.out)-len(w.out) {
		w.out = append(w.out, p...)
		return len(p), nil
	}
	total, sent := len(p), 0
	if len(w.out) > 0 {
		// Top the buffer up so the host gets full pieces.
		sent = copy(w.out[len(w.out):cap(w.out)], p)
		w.out = w.out[:len(w.out)+sent]
		p = p[sent:]
		if !w.emit() {
			return 0, w.err
		}
	}
	if len(p) >= cap(w.out) {
		// Big enough to go out on its own: no point copying it.
		if !w.send(p) {
			return sent, w.err
		}
		return total, nil
	}
	w.out = append(w.out, p...)
	return total, nil
}

// emit hands the buffered body to the host.
func (w *responseWriter) emit() bool {
	ok := w.send(w.out)
	w.out = w.out[:0]
	return ok
}

// send starts the response if needed and writes data. The first data sent
// is the first data written, which is what the Content-Type is sniffed from.
func (w *responseWriter) send(data []byte) bool {
	if !w.start(data) {
		return false
	}
	for len(data) > 0 {
		chunk := data
		if len(chunk) > abi.MaxWriteBytes {
			chunk = chunk[:abi.MaxWriteBytes]
		}
		if rc := w.host.bodyWrite(chunk); rc < 0 {
			w.fail(rc)
			return false
		}
		data = data[len(chunk):]
	}
	return true
}

func (w *responseWriter) start(sample []byte) bool {
	if w.started {
		return w.err == nil
	}
	w.started = true
	if w.sniff && len(sample) > 0 {
		w.hdr = abi.AppendPair(w.hdr, "Content-Type", detectContentType(sample))
	}
	rc := int32(abi.ErrInvalid)
	if len(w.hdr) <= abi.MaxHeaderBytes {
		rc = w.host.startResponse(int32(w.status), w.hdr)
	}
	switch rc {
	case 0:
		return true
	case abi.ErrInvalid:
		w.host.log(abi.LogError, "sdk: "+w.rejection()+"; sending a 500 instead")
		if rc := w.host.startResponse(http.StatusInternalServerError, nil); rc < 0 {
			w.host.log(abi.LogError, "sdk: start_response(500) failed: "+abi.ErrnoString(rc))
		}
		w.err = errResponseRejected
	default:
		w.err = errnoError(rc)
		if rc == abi.ErrState {
			w.host.log(abi.LogError, "sdk: start_response: "+abi.ErrnoString(rc))
		}
	}
	return false
}

// sniffLen is how much of the body http.DetectContentType looks at.
const sniffLen = 512

// The last sniffed sample and its result. DetectContentType is a pure
// function of the first sniffLen bytes, and a plugin tends to start its
// responses the same way every time, while in wasm sniffing costs about as
// much as the rest of a small request: a one-entry cache pays off.
var (
	lastSniff     [sniffLen]byte
	lastSniffLen  = -1
	lastSniffType string
)

func detectContentType(sample []byte) string {
	if len(sample) > sniffLen {
		sample = sample[:sniffLen]
	}
	if len(sample) == lastSniffLen && string(sample) == string(lastSniff[:len(sample)]) {
		return lastSniffType
	}
	lastSniffType = http.DetectContentType(sample)
	lastSniffLen = copy(lastSniff[:], sample)
	return lastSniffType
}

// rejection explains why start_response said ErrInvalid; the host does not
// say, so look for the culprit the way the host is likely to.
func (w *responseWriter) rejection() string {
	if len(w.hdr) > abi.MaxHeaderBytes {
		return "response headers too large (" + strconv.Itoa(len(w.hdr)) + " bytes encoded)"
	}
	if vs := w.header["Content-Length"]; len(vs) > 1 {
		return "invalid response header \"Content-Length\": set more than once"
	} else if len(vs) == 1 && w.contentLength < 0 {
		return "invalid response header " + strconv.Quote("Content-Length: "+vs[0])
	}
	for k, vs := range w.header {
		if !validHeaderName(k) {
			return "invalid response header " + strconv.Quote(k)
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return "invalid response header " + strconv.Quote(k+": "+v)
			}
		}
	}
	return "response status " + strconv.Itoa(w.status) + " or its headers rejected by the host"
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters other than tab, as
// golang.org/x/net/http/httpguts does.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// Flush sends the status, headers and everything written so far.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush with its error, for http.ResponseController.
func (w *responseWriter) FlushError() error {
	if err := w.ready(); err != nil {
		return err
	}
	if !w.emit() {
		return w.err
	}
	if rc := w.host.bodyFlush(); rc < 0 {
		w.fail(rc)
		return w.err
	}
	return nil
}

// fail records a host call's error; ErrClosed also ends the request's
// context.
func (w *responseWriter) fail(rc int32) {
	w.err = errnoError(rc)
	if rc == abi.ErrClosed && w.req != nil {
		w.req.cancelRequest()
	}
}

// finish completes the response after the handler returned: a handler
// that wrote nothing still answers 200. No flush: an unflushed response
// gets its Content-Length from the host.
func (w *responseWriter) finish() {
	if w.err == nil {
		if !w.wroteHeader {
			w.WriteHeader(http.StatusOK)
		}
		w.emit()
	}
}

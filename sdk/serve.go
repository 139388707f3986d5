package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"unsafe"

	"github.com/wasmhost/wasmhost/abi"
)

// host is the guest's view of the ABI's host functions. The wasip1 build
// implements it with the real imports; tests use a fake, so the code below
// is exercised natively too.
type host interface {
	environGet(buf []byte) int32
	bodyRead(buf []byte) int32
	startResponse(status int32, headers []byte) int32
	bodyWrite(buf []byte) int32
	bodyFlush() int32
	log(level int32, msg string)
}

// outBufSize is how much response body the guest collects before handing it
// to the host: large enough that typical responses cross once, small enough
// to be negligible next to the Go runtime's own footprint.
const outBufSize = 16 << 10

// Buffers reused from request to request: an instance runs one request at a
// time, and reusing them keeps the per-request garbage small.
var (
	envBuf []byte
	outBuf []byte
	hdrBuf []byte
)

// maxKeptHeaderBuf bounds the encoded-header buffer kept for reuse: one
// response with huge headers should not pin that memory for good.
const maxKeptHeaderBuf = 64 << 10

// headerNames maps environ header keys (without "HTTP_") to canonical
// header names, so that common names are converted, and allocated, once.
var headerNames map[string]string

// maxHeaderNames bounds headerNames: clients choose header names, and an
// instance lives for many requests.
const maxHeaderNames = 256

// stderr receives panic reports; a variable so tests can capture them.
var stderr io.Writer = os.Stderr

const noHandlerMessage = "wasmhost: no handler registered (call sdk.Handle in init)\n"

// serve runs one request: it is wasmhost_handle without the wasm.
func serve(h host, environSize, flags int32) (result int32) {
	if flags&abi.FlagEvent != 0 {
		return serveEvent(h, eventConn, environSize)
	}
	if f := registeredGateway; f != nil {
		return serveGateway(h, f, environSize, flags)
	}
	if outBuf == nil {
		outBuf = make([]byte, 0, outBufSize)
	}
	st := takeState()
	st.w = responseWriter{host: h, out: outBuf[:0], hdr: hdrBuf[:0], contentLength: -1, req: &st.ctx}
	w := &st.w
	r, ok := st.newRequest(h, environSize, flags)
	if !ok {
		h.log(abi.LogError, "sdk: could not read the request environ")
		return abi.HandleFailed
	}
	defer func() {
		if v := recover(); v != nil {
			result = abortResult(v, &st.ctx)
		}
		// Handlers must not use these after returning; make sure stale
		// references cannot touch the next request's buffers.
		w.done = true
		st.body.err = http.ErrBodyReadAfterClose
		outBuf = w.out[:0]
		if cap(w.hdr) <= maxKeptHeaderBuf {
			hdrBuf = w.hdr[:0]
		}
		w.out, w.hdr, w.header = nil, nil, nil
		st.release()
	}()
	if handler := registered; handler != nil {
		handler.ServeHTTP(w, r)
	} else {
		h.log(abi.LogError, strings.TrimSuffix(noHandlerMessage, "\n"))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.WriteString(noHandlerMessage)
	}
	w.finish()
	return abi.HandleOK
}

// abortResult is what a handler's panic makes of the request. Panicking
// with http.ErrAbortHandler once the host has said the request is over
// (net/http's idiom, which httputil.ReverseProxy follows when a write
// fails) is a clean stop: the handler reacted to the client leaving, and
// the instance is as sound as after a return. Any other panic is a failure.
func abortResult(v any, ec *environContext) int32 {
	if v == http.ErrAbortHandler && ec.requestCanceled() {
		return abi.HandleOK
	}
	reportPanic(v)
	return abi.HandleFailed
}

// reportPanic writes a handler's panic and stack to stderr, which the host
// logs under the plugin's name; http.ErrAbortHandler is a deliberate abort
// and not reported.
func reportPanic(v any) {
	if v == http.ErrAbortHandler {
		return
	}
	var msg strings.Builder
	msg.WriteString("panic: ")
	msg.WriteString(fmt.Sprint(v))
	msg.WriteString("\n\n")
	msg.Write(debug.Stack())
	io.WriteString(stderr, msg.String())
}

// readEnviron fetches the encoded environ into envBuf, growing it once if
// the host's environ_size was not enough after all.
func readEnviron(h host, size int32) ([]byte, bool) {
	if size < 0 {
		size = 0
	}
	if int(size) > cap(envBuf) {
		envBuf = make([]byte, size)
	}
	buf := envBuf[:cap(envBuf)]
	n := h.environGet(buf)
	if n > int32(len(buf)) {
		envBuf = make([]byte, n)
		buf = envBuf
		n = h.environGet(buf)
	}
	if n < 0 || n > int32(len(buf)) {
		return nil, false
	}
	return buf[:n], true
}

// environContext carries the environ for Environ without the extra
// allocation of context.WithValue. The map is built on first use: most
// handlers never ask for it, and in wasm building it costs as much as the
// rest of the request setup.
type environContext struct {
	context.Context
	raw    string // the encoded environ
	once   sync.Once
	env    map[string]string
	cancel requestCancel // ended when the host says the request is over (cancel.go)
}

func (c *environContext) Value(key any) any {
	if _, ok := key.(environKey); ok {
		return c
	}
	return c.Context.Value(key)
}

func (c *environContext) environ() map[string]string {
	c.once.Do(func() {
		c.env = make(map[string]string, 32)
		forEachPair(c.raw, func(k, v string) { c.env[k] = v })
	})
	return c.env
}

// forEachPair calls f for each pair of an encoded environ held in a string,
// with substrings of it: decoding allocates nothing per pair. It reports
// false if s is malformed; f has then seen the pairs before the fault.
func forEachPair(s string, f func(k, v string)) bool {
	raw := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	pos := 0
	for pos < len(raw) {
		k, v, _, ok := abi.NextPair(raw[pos:])
		if !ok {
			return false
		}
		ks := pos + 4
		vs := ks + len(k) + 4
		pos = vs + len(v)
		f(s[ks:ks+len(k)], s[vs:pos])
	}
	return true
}

// headerName turns an environ header key such as "USER_AGENT" back into the
// canonical header name "User-Agent".
func headerName(key string) string {
	if name, ok := headerNames[key]; ok {
		return name
	}
	name := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(key, "_", "-"))
	if headerNames == nil {
		headerNames = make(map[string]string)
	}
	if len(headerNames) < maxHeaderNames {
		headerNames[strings.Clone(key)] = name
	}
	return name
}

// rawPath recovers the escaped form of path (PATH_INFO, percent-decoded by
// the host) from the tail of the request-target, so that r.URL.EscapedPath
// keeps the client's escaping ("/a%2Fb" stays one segment). It returns ""
// when the target does not end in an encoding of path, and url.URL checks
// the result again before using it.
func rawPath(requestURI, path string) string {
	raw := requestURI
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if !strings.HasPrefix(raw, "/") { // absolute-form: skip scheme://authority
		i := strings.Index(raw, "://")
		if i < 0 {
			return ""
		}
		raw = raw[i+3:]
		j := strings.IndexByte(raw, '/')
		if j < 0 {
			return ""
		}
		raw = raw[j:]
	}
	// Walk both backwards: the tail of raw that decodes to path. A "%XY"
	// is recognised from its last byte, which is unambiguous in valid
	// encodings because every '%' starts an escape.
	i, j := len(raw), len(path)
	for j > 0 {
		if i == 0 {
			return ""
		}
		c, step := raw[i-1], 1
		if i >= 3 && raw[i-3] == '%' && isHex(raw[i-2]) && isHex(c) {
			c, step = unhex(raw[i-2])<<4|unhex(c), 3
		}
		if c != path[j-1] {
			return ""
		}
		i, j = i-step, j-1
	}
	if raw[i:] == path {
		return ""
	}
	return raw[i:]
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// bodyReader is r.Body: each Read is one body_read into the caller's slice.
type bodyReader struct {
	host host
	req  *environContext // cancelled when the host says the request is over
	err  error           // sticky: io.EOF, a host error, or closed
}

// maxRead keeps a read's length representable as an i32.
const maxRead = 1 << 30

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > maxRead {
		p = p[:maxRead]
	}
	n := b.host.bodyRead(p)
	switch {
	case n > 0 && int(n) <= len(p):
		return int(n), nil
	case n == 0:
		b.err = io.EOF
	case n > 0:
		b.err = errors.New("wasmhost: body_read returned more than asked for")
	default:
		b.err = errnoError(n)
		if n == abi.ErrClosed && b.req != nil {
			b.req.cancelRequest()
		}
	}
	return 0, b.err
}

func (b *bodyReader) Close() error {
	b.err = http.ErrBodyReadAfterClose
	return nil
}

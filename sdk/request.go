package sdk

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wasmhost/wasmhost/abi"
)

// requestState holds everything a request needs, and is reused from one
// request of the instance to the next: in wasm every allocation is paid
// twice, once to make it and once more in a garbage collector that runs
// on the request's own thread, and a fresh *http.Request, header map,
// context and writer per request cost more than the rest of a hello. What
// does not carry over:
//   - the request itself is reset from blank, a copy of a zero Request
//     taken once (with the context set), so every field is cleared, the
//     unexported ones (path values, the ServeMux pattern) included;
//   - the header map is cleared; its values point into the environ string,
//     which is the request's own (strings a handler keeps stay valid);
//   - the context and the writer are rebuilt from literals;
//   - a state whose context handed out its Done channel, took an AfterFunc
//     or was cancelled is not reused (a goroutine of the old request may
//     still watch it, and must not see it come back to life), and neither
//     is one whose header map a handler grew past maxKeptHeaders.
type requestState struct {
	url    url.URL
	ctx    environContext
	body   bodyReader
	w      responseWriter
	req    *http.Request
	blank  http.Request // a zero Request with ctx set: what req is reset to
	header http.Header
	values []string // backing for header's one-element slices
}

// spareState is the state the previous request left for the next one.
var spareState *requestState

// maxKeptHeaders bounds the header map kept for reuse.
const maxKeptHeaders = 64

// remoteRoom is what the environ's buffer keeps past its end for
// RemoteAddr ("[v6 address]:port" is at most 53 bytes), so that the
// address and the environ are one allocation.
const remoteRoom = 64

func takeState() *requestState {
	st := spareState
	spareState = nil
	if st == nil {
		st = &requestState{header: make(http.Header, 8), values: make([]string, 0, 8)}
		st.req = (&http.Request{}).WithContext(&st.ctx)
		st.blank = *st.req
	}
	return st
}

// release offers st to the next request, unless something of this one may
// still be watching it.
func (st *requestState) release() {
	rc := &st.ctx.cancel
	if rc.done != nil || rc.canceled.Load() || len(rc.afterFuncs) > 0 || len(st.header) > maxKeptHeaders {
		return
	}
	if nextCalled == &st.ctx {
		nextCalled = nil // the next request's next may run once more
	}
	spareState = st
}

// newRequest reads the environ and builds the request from it.
func (st *requestState) newRequest(h host, environSize, flags int32) (*http.Request, bool) {
	s, spare, ok := readEnvironString(h, environSize)
	if !ok {
		return nil, false
	}
	st.ctx = environContext{Context: context.Background(), raw: s}
	f := st.readEnviron(h, s)

	st.url = url.URL{Path: f.pathInfo, RawPath: rawPath(f.uri, f.pathInfo), RawQuery: f.query}
	method := f.method
	if method == "" {
		method = http.MethodGet
	}
	proto := f.proto
	major, minor, validProto := http.ParseHTTPVersion(proto)
	if !validProto {
		proto, major, minor = "HTTP/1.1", 1, 1
	}
	body, contentLength := st.requestBody(h, flags, f.clText)
	var tlsState *tls.ConnectionState
	if f.scheme == "https" {
		// The host terminates TLS and does not pass its details on.
		tlsState = terminatedTLS()
	}

	req := st.req
	*req = st.blank
	req.Method = method
	req.URL = &st.url
	req.Proto, req.ProtoMajor, req.ProtoMinor = proto, major, minor
	req.Header = st.header
	req.Body, req.ContentLength = body, contentLength
	req.Host = f.host
	req.RemoteAddr = remoteAddr(spare, f.remoteAddr, f.remotePort)
	req.RequestURI = f.uri
	req.TLS = tlsState
	return req, true
}

// readEnvironString fetches the environ into a buffer of its own, which
// the request's strings point into, and returns the unused room after it.
func readEnvironString(h host, size int32) (string, []byte, bool) {
	if size < 0 {
		size = 0
	}
	buf := make([]byte, size, int(size)+remoteRoom)
	n := h.environGet(buf)
	if n > size {
		buf = make([]byte, n, int(n)+remoteRoom)
		size, n = n, h.environGet(buf)
	}
	if n < 0 || n > size {
		return "", nil, false
	}
	return unsafe.String(unsafe.SliceData(buf), n), buf[n:n:cap(buf)], true
}

// remoteAddr is r.RemoteAddr, "host:port" (net.JoinHostPort), written into
// room when it fits: room is past the end of the environ's string, in the
// same allocation, and nothing else ever writes there.
func remoteAddr(room []byte, addr, port string) string {
	if addr == "" {
		return ""
	}
	// "1.2.3.4:" when the port is unknown (the address came from a
	// proxy's header): still host:port, so net.SplitHostPort works.
	v6 := false
	for i := 0; i < len(addr); i++ {
		if addr[i] == ':' {
			v6 = true
			break
		}
	}
	if v6 || len(addr)+1+len(port) > cap(room) {
		return net.JoinHostPort(addr, port)
	}
	b := append(append(append(room, addr...), ':'), port...)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// environFields are the environ's entries a request is built from, as the
// host sent them.
type environFields struct {
	method, pathInfo, query, uri, proto, remoteAddr, remotePort string
	ctype, clText, host, scheme                                 string
}

// readEnviron decodes the environ s: its fields, the mount (into the
// response writer, which resolves relative redirects against it), and the
// headers (into st.header). It walks the pairs itself rather than through
// forEachPair: a closure over the header map and the fields escapes, and
// costs allocations of its own.
func (st *requestState) readEnviron(h host, s string) environFields {
	clear(st.header)
	st.values = st.values[:0]
	var f environFields
	// The pair encoding (abi.AppendPair) is decoded inline: under
	// wazero's interruption checks every call costs a trip out of the
	// native code, and abi.NextPair is three calls per entry.
	for pos := 0; pos < len(s); {
		ks, ke, ok := field32(s, pos)
		vs, ve, ok2 := field32(s, ke)
		if !ok || !ok2 {
			h.log(abi.LogError, "sdk: malformed environ; ignoring its tail")
			break
		}
		st.field(&f, s[ks:ke], s[vs:ve])
		pos = ve
	}
	if f.ctype != "" {
		st.addHeader("Content-Type", f.ctype)
	}
	if f.clText != "" {
		st.addHeader("Content-Length", f.clText)
	}
	return f
}

// field32 locates the length-prefixed field at s[pos:]: its bytes are
// s[start:end]. Small enough to be inlined.
func field32(s string, pos int) (start, end int, ok bool) {
	if len(s)-pos < 4 {
		return 0, 0, false
	}
	n := int(uint32(s[pos]) | uint32(s[pos+1])<<8 | uint32(s[pos+2])<<16 | uint32(s[pos+3])<<24)
	start = pos + 4
	if n < 0 || n > len(s)-start {
		return 0, 0, false
	}
	return start, start + n, true
}

// field files one environ entry. Headers and the host's own wasmhost.*
// entries, most of an environ, are told apart by their first bytes before
// any string comparison: in wasm each comparison is a call, and a switch
// over a dozen names costs more than the rest of the entry's handling.
func (st *requestState) field(f *environFields, key, value string) {
	if len(key) > len(abi.HeaderPrefix) && key[:len(abi.HeaderPrefix)] == abi.HeaderPrefix {
		if key == "HTTP_HOST" { // r.Host, and like net/http not in r.Header
			f.host = value
			return
		}
		st.addHeader(st.headerName(key[len(abi.HeaderPrefix):]), value)
		return
	}
	if len(key) > 0 && key[0] == 'w' {
		if key == abi.KeyURLScheme {
			f.scheme = value
		}
		return
	}
	switch key {
	case abi.KeyRequestMethod:
		f.method = value
	case abi.KeyPathInfo:
		f.pathInfo = value
	case abi.KeyScriptName:
		st.w.mount = value
	case abi.KeyQueryString:
		f.query = value
	case abi.KeyRequestURI:
		f.uri = value
	case abi.KeyServerProtocol:
		f.proto = value
	case abi.KeyRemoteAddr:
		f.remoteAddr = value
	case abi.KeyRemotePort:
		f.remotePort = value
	case abi.KeyContentType:
		f.ctype = value
	case abi.KeyContentLength:
		f.clText = value
	}
}

// headerSlot remembers the header name met at one position of the
// environ: a client sends its headers in the same order request after
// request, so comparing with the previous request's key at that position
// usually finds the canonical name without hashing (a map lookup costs
// about 300 ns in wasm, a short comparison a tenth of that).
type headerSlot struct{ key, name string }

// headerSlots are the positions remembered.
var headerSlots [16]headerSlot

func (st *requestState) headerName(key string) string {
	i := len(st.values)
	if i < len(headerSlots) && headerSlots[i].key == key {
		return headerSlots[i].name
	}
	name := headerName(key)
	if i < len(headerSlots) {
		headerSlots[i] = headerSlot{strings.Clone(key), name}
	}
	return name
}

// addHeader adds one value. The values share one backing array, each
// slice capped at its own element, so a handler's Add copies rather than
// overwriting its neighbour; past the array's capacity, append moves on
// and the slices already handed out keep the old one.
func (st *requestState) addHeader(name, value string) {
	st.values = append(st.values, value)
	n := len(st.values)
	st.header[name] = st.values[n-1 : n : n]
}

// requestBody returns the request's body and its length (-1 unknown): none
// unless the host says there is one (abi.FlagHasBody).
func (st *requestState) requestBody(h host, flags int32, clText string) (io.ReadCloser, int64) {
	st.body = bodyReader{}
	if flags&abi.FlagHasBody == 0 {
		return http.NoBody, 0
	}
	contentLength := int64(-1)
	if n, err := strconv.ParseInt(clText, 10, 64); err == nil && n >= 0 {
		contentLength = n
	}
	if contentLength == 0 {
		return http.NoBody, 0
	}
	st.body.host, st.body.req = h, &st.ctx
	return &st.body, contentLength
}

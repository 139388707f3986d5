package sdk

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"unsafe"

	"github.com/wasmhost/wasmhost/abi"
)

// Gateway is one request as it crosses the ABI, for a handler registered
// with HandleGateway: the environ, the request body as an io.Reader,
// start_response and the response body. Nothing is built on top: no map, no
// *http.Request, no header map, no buffering, no Content-Type sniffing. It is
// the bare gateway interface of CGI and Python's WSGI (PEP 3333: an
// environ, start_response, the body in chunks) for the hottest endpoints
// of a site, and costs a handful of host calls per request (environ_get,
// start_response, one body_write per Write) where the net/http path also
// parses the environ into an *http.Request.
//
// A Gateway is valid until its handler returns, and like an instance it
// serves one request at a time: it is not safe for concurrent use.
type Gateway struct {
	host    host
	env     string // the encoded environ (abi.AppendPair pairs), the request's own copy
	body    bodyReader
	started bool
	done    bool
	err     error // sticky: why the response cannot continue
}

// registeredGateway is the bare handler, when one is registered instead of
// an http.Handler.
var registeredGateway func(g *Gateway)

// HandleGateway registers f as the plugin's handler, instead of an
// http.Handler: each request calls f with its *Gateway. Call it from an init
// function; a later call of Handle or HandleGateway replaces it.
func HandleGateway(f func(g *Gateway)) {
	if f == nil {
		panic("sdk: HandleGateway called with a nil function")
	}
	registeredGateway, registered = f, nil
	kind, middleware = abi.KindHandler, nil // the last registration decides
}

// Getenv returns the environ value of key (REQUEST_METHOD, PATH_INFO,
// QUERY_STRING, HTTP_USER_AGENT, wasmhost.request_id, a plugin env entry,
// ...), or "" when the request has none. It scans the environ, which holds
// a few dozen entries, and allocates nothing.
func (g *Gateway) Getenv(key string) string {
	raw := unsafe.Slice(unsafe.StringData(g.env), len(g.env)) // read only
	pos := 0
	for pos < len(raw) {
		k, v, _, ok := abi.NextPair(raw[pos:])
		if !ok {
			return ""
		}
		ks := pos + 4
		vs := ks + len(k) + 4
		pos = vs + len(v)
		if len(k) == len(key) && g.env[ks:ks+len(k)] == key {
			return g.env[vs:pos]
		}
	}
	return ""
}

// Environ calls f for every environ entry, in the host's order. The strings
// stay valid after the request.
func (g *Gateway) Environ(f func(key, value string)) { forEachPair(g.env, f) }

// Read reads the request body: io.EOF at its end (at once for a request
// without one), ErrBodyTooLarge past the server's max_body_size,
// ErrClientGone when the client went away. Each call is one host call
// straight into p, so read in large pieces.
func (g *Gateway) Read(p []byte) (int, error) { return g.body.Read(p) }

// StartResponse sends the status and the headers, given as name, value
// pairs: StartResponse(200, "Content-Type", "text/plain"). It may be called
// once, before the first Write or Flush; a response without it is a 200
// without headers. Without Content-Length the host computes one when the
// handler returns, unless the response was flushed (then it is chunked).
func (g *Gateway) StartResponse(status int, headers ...string) error {
	switch {
	case g.done:
		return errHandlerDone
	case g.started:
		return errors.New("sdk: StartResponse called twice")
	case len(headers)%2 != 0:
		return fmt.Errorf("sdk: StartResponse: %d header strings, want name, value pairs", len(headers))
	case status < 100 || status > 999:
		return fmt.Errorf("sdk: StartResponse: invalid status %d", status)
	}
	g.started = true
	hdr := hdrBuf[:0]
	for i := 0; i < len(headers); i += 2 {
		hdr = abi.AppendPair(hdr, headers[i], headers[i+1])
	}
	if len(hdr) > abi.MaxHeaderBytes {
		g.err = fmt.Errorf("sdk: StartResponse: %d bytes of headers, more than the limit of %d", len(hdr), abi.MaxHeaderBytes)
		return g.err
	}
	rc := g.host.startResponse(int32(status), hdr)
	if cap(hdr) <= maxKeptHeaderBuf {
		hdrBuf = hdr[:0]
	}
	switch {
	case rc == abi.ErrInvalid:
		g.err = fmt.Errorf("sdk: StartResponse: the host refused status %d or a header (invalid name or value, or one the host sets itself)", status)
	case rc < 0:
		g.err = errnoError(rc)
	}
	return g.err
}

// Write sends p as response body: one host call, so write in large
// pieces. A Write before StartResponse starts a 200 without headers.
func (g *Gateway) Write(p []byte) (int, error) {
	if err := g.ready(); err != nil {
		return 0, err
	}
	n := 0
	for n < len(p) {
		chunk := p[n:]
		if len(chunk) > abi.MaxWriteBytes {
			chunk = chunk[:abi.MaxWriteBytes]
		}
		if rc := g.host.bodyWrite(chunk); rc < 0 {
			g.err = errnoError(rc)
			return n, g.err
		}
		n += len(chunk)
	}
	return n, nil
}

// WriteString is Write without copying s.
func (g *Gateway) WriteString(s string) (int, error) {
	return g.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// Flush sends what was written so far; the response is then chunked.
func (g *Gateway) Flush() error {
	if err := g.ready(); err != nil {
		return err
	}
	if rc := g.host.bodyFlush(); rc < 0 {
		g.err = errnoError(rc)
	}
	return g.err
}

// ready is what Write and Flush check first.
func (g *Gateway) ready() error {
	if g.done {
		return errHandlerDone
	}
	if !g.started {
		g.StartResponse(http.StatusOK)
	}
	return g.err
}

// serveGateway runs one request through the registered gateway handler.
func serveGateway(h host, f func(*Gateway), environSize, flags int32) (result int32) {
	raw, ok := readEnviron(h, environSize)
	if !ok {
		h.log(abi.LogError, "sdk: could not read the request environ")
		return abi.HandleFailed
	}
	g := &Gateway{host: h, env: string(raw)}
	g.body.err = io.EOF
	if flags&abi.FlagHasBody != 0 {
		g.body.host, g.body.err = h, nil
	}
	defer func() {
		if v := recover(); v != nil {
			reportPanic(v)
			result = abi.HandleFailed
		}
		g.done = true
		g.body.err = http.ErrBodyReadAfterClose
	}()
	f(g)
	if !g.started {
		g.StartResponse(http.StatusOK)
	}
	return abi.HandleOK
}

// gatewayHandler runs a gateway handler under net/http, for native tests
// with net/http/httptest (Handler returns it): the environ is synthesised
// from r as Environ does, and the response goes to w.
func gatewayHandler(f func(*Gateway)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env []byte
		for k, v := range synthesizeEnviron(r) {
			env = abi.AppendPair(env, k, v)
		}
		var flags int32
		if r.Body != nil && r.Body != http.NoBody {
			flags |= abi.FlagHasBody
		}
		nh := &nativeHost{w: w, r: r, environ: env}
		if serveGateway(nh, f, int32(len(env)), flags) != abi.HandleOK {
			panic(http.ErrAbortHandler) // as the host would, it breaks the response
		}
	})
}

// nativeHost is the host as seen through net/http.
type nativeHost struct {
	w       http.ResponseWriter
	r       *http.Request
	environ []byte
}

func (n *nativeHost) environGet(buf []byte) int32 {
	if len(buf) >= len(n.environ) {
		copy(buf, n.environ)
	}
	return int32(len(n.environ))
}

func (n *nativeHost) bodyRead(buf []byte) int32 {
	m, err := n.r.Body.Read(buf)
	for m == 0 && err == nil && len(buf) > 0 {
		m, err = n.r.Body.Read(buf)
	}
	if m > 0 {
		return int32(m)
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == io.EOF:
		return 0
	case errors.As(err, &tooLarge):
		return abi.ErrBodyTooLarge
	}
	return abi.ErrClosed
}

func (n *nativeHost) startResponse(status int32, headers []byte) int32 {
	h := n.w.Header()
	for len(headers) > 0 {
		k, v, rest, ok := abi.NextPair(headers)
		if !ok || !validHeaderName(string(k)) || !validHeaderValue(string(v)) {
			return abi.ErrInvalid
		}
		h.Add(string(k), string(v))
		headers = rest
	}
	n.w.WriteHeader(int(status))
	return 0
}

func (n *nativeHost) bodyWrite(buf []byte) int32 {
	if _, err := n.w.Write(buf); err != nil {
		return abi.ErrClosed
	}
	return 0
}

func (n *nativeHost) bodyFlush() int32 {
	if f, ok := n.w.(http.Flusher); ok {
		f.Flush()
	}
	return 0
}

func (n *nativeHost) log(level int32, msg string) { logMessage(level, msg) }

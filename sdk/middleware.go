package sdk

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/wasmhost/wasmhost/abi"
)

// chainHost is the guest's view of the middleware host functions (ABI
// 1.2). The wasip1 build implements it with the real imports; natively
// there is no chain to run.
type chainHost interface {
	nextStart(req []byte, flags int32) int32
	nextWait(size *uint32) int32
	nextRead(buf []byte) int32
	nextBody(buf []byte, errno int32) int32
}

// kind is what this module tells the host it is (abi.ExportKind).
var kind int32 = abi.KindHandler

// middleware is the function registered with HandleMiddleware.
var middleware func(next http.Handler) http.Handler

// HandleMiddleware registers m as the plugin's middleware: the plugin then
// wraps the rest of the chains it is named in (site.hcl: middleware = [...])
// instead of answering requests by itself. m has Go's own middleware shape,
// so existing net/http middleware can be used as it is:
//
//	sdk.HandleMiddleware(func(next http.Handler) http.Handler {
//		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			w.Header().Set("X-Served-By", "wasmhost")
//			next.ServeHTTP(w, r)
//		})
//	})
//
// next.ServeHTTP runs the rest of the chain (more middleware, then the
// handler), each link in its own instance of its own plugin, with r as the
// middleware changed it: method, path, query, headers, and the body, which
// may be replaced by any reader (set r.ContentLength to its length, or -1).
// The answer comes back through w as the downstream produces it:
// WriteHeader, then Write for each piece, Flush when the downstream
// flushes; a middleware that wraps w sees and may change each of them.
// Headers set before calling next are kept; a header the downstream sets
// replaces the middleware's of the same name, except Set-Cookie, which
// adds. next.ServeHTTP may be called at most once per request; a middleware
// may also answer by itself and never call it.
//
// To pass data downstream, set a request header (the convention is an
// "X-" name of the middleware's own, such as X-User; see docs/ABI.md):
// clients can send such headers too, so a middleware that sets one must
// also delete any the client sent.
//
// Call it from an init function, instead of Handle.
func HandleMiddleware(m func(next http.Handler) http.Handler) {
	if m == nil {
		panic("sdk: HandleMiddleware called with a nil function")
	}
	h := m(nextHandler{})
	if h == nil {
		panic("sdk: the middleware function returned a nil handler")
	}
	middleware = m
	registered, registeredGateway = h, nil
	kind = abi.KindMiddleware
}

// Middleware returns the function registered with HandleMiddleware, or nil.
// Native tests wrap a handler of their own with it:
//
//	h := sdk.Middleware()(http.HandlerFunc(app))
//	h.ServeHTTP(recorder, httptest.NewRequest("GET", "/", nil))
func Middleware() func(next http.Handler) http.Handler { return middleware }

// nextHandler is the next passed to the middleware: the rest of the chain,
// run by the host.
type nextHandler struct{}

// nextCalled is the request whose next has run, to enforce "at most once".
var nextCalled *environContext

// chainBuf carries body pieces between the downstream and w, reused from
// request to request: the middleware's memory does not grow with the body.
var chainBuf []byte

const chainBufSize = 32 << 10

func (nextHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ch, ok := chainHostOf()
	ec, _ := r.Context().Value(environKey{}).(*environContext)
	if !ok || ec == nil {
		http.Error(w, "sdk: no downstream handler outside wasmhost (in tests, wrap one with sdk.Middleware())", http.StatusBadGateway)
		return
	}
	if nextCalled == ec {
		panic("sdk: next.ServeHTTP called twice for one request")
	}
	nextCalled = ec
	runNext(ch, w, r, ec)
}

// runNext starts the downstream and relays its events until it is done.
func runNext(ch chainHost, w http.ResponseWriter, r *http.Request, ec *environContext) {
	req, flags := encodeNextRequest(r)
	if rc := ch.nextStart(req, flags); rc < 0 {
		logMessage(abi.LogError, "sdk: next_start: "+abi.ErrnoString(rc))
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		return
	}
	if chainBuf == nil {
		chainBuf = make([]byte, chainBufSize)
	}
	buf := chainBuf
	writeFailed := false
	for {
		var size uint32
		switch ev := ch.nextWait(&size); ev {
		case abi.EventBodyWanted:
			n := int(size)
			if n > len(buf) {
				n = len(buf)
			}
			supplyBody(ch, r.Body, buf[:n])
		case abi.EventHead:
			p := readPayload(ch, size)
			if len(p) < int(size) {
				// next_read stopped short: the request ended while the
				// head was being read, and the host took it back.
				ec.cancelRequest()
				return
			}
			status, header, ok := decodeHead(p)
			if !ok {
				panic("sdk: malformed response head from the host")
			}
			mergeHeader(w.Header(), header)
			w.WriteHeader(status)
		case abi.EventBody:
			for size > 0 {
				n := ch.nextRead(buf)
				if n <= 0 {
					break
				}
				size -= uint32(n)
				if !writeFailed {
					if _, err := w.Write(buf[:n]); err != nil {
						writeFailed = true // keep draining: the downstream must not block
					}
				}
			}
		case abi.EventFlush:
			if f, ok := w.(http.Flusher); ok && !writeFailed {
				f.Flush()
			}
		case abi.EventDone:
			return
		case abi.ErrClosed:
			// The request ended (the client went away, or the deadline
			// passed): next returns as a handler does when its client
			// leaves, with r.Context() done and w's writes failing, so the
			// middleware's own code and defers run. A panic here would be
			// a failure to the host, and an instance thrown away for a
			// client that merely left.
			ec.cancelRequest()
			return
		default:
			// The downstream failed after its answer began: nothing honest
			// can follow, so end this handler the way net/http's servers
			// understand, with a broken response.
			panic(http.ErrAbortHandler)
		}
	}
}

// encodeNextRequest describes r for next_start.
func encodeNextRequest(r *http.Request) ([]byte, int32) {
	req := make([]byte, 0, 512)
	req = abi.AppendPair(req, abi.NextMethod, r.Method)
	req = abi.AppendPair(req, abi.NextPath, r.URL.Path)
	req = abi.AppendPair(req, abi.NextQuery, r.URL.RawQuery)
	req = abi.AppendPair(req, abi.NextHost, r.Host)
	var flags int32
	switch r.Body.(type) {
	case nil:
	case *bodyReader:
		flags = abi.NextHasBody
	default:
		if r.Body != http.NoBody {
			flags = abi.NextHasBody | abi.NextOwnBody
		}
	}
	if flags != 0 && r.ContentLength >= 0 {
		req = abi.AppendPair(req, abi.NextContentLength, strconv.FormatInt(r.ContentLength, 10))
	}
	for k, vs := range r.Header {
		if k == "Content-Length" {
			continue // :content_length says it
		}
		for _, v := range vs {
			req = abi.AppendPair(req, k, v)
		}
	}
	return req, flags
}

// supplyBody answers EventBodyWanted from the middleware's own body reader.
func supplyBody(ch chainHost, body io.Reader, buf []byte) {
	if body == nil || len(buf) == 0 {
		ch.nextBody(nil, 0)
		return
	}
	for tries := 0; tries < 100; tries++ {
		n, err := body.Read(buf)
		switch {
		case n > 0:
			ch.nextBody(buf[:n], 0)
			return
		case err == io.EOF:
			ch.nextBody(nil, 0)
			return
		case err != nil:
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				ch.nextBody(nil, abi.ErrBodyTooLarge)
			} else {
				ch.nextBody(nil, abi.ErrIO)
			}
			return
		}
	}
	ch.nextBody(nil, abi.ErrIO) // a reader that keeps returning 0, nil
}

// readPayload reads a whole event payload (a response head: bounded by
// the host to abi.MaxHeaderBytes).
func readPayload(ch chainHost, size uint32) []byte {
	p := make([]byte, size)
	got := 0
	for got < len(p) {
		n := ch.nextRead(p[got:])
		if n <= 0 {
			break
		}
		got += int(n)
	}
	return p[:got]
}

func decodeHead(p []byte) (status int, header [][2]string, ok bool) {
	for len(p) > 0 {
		k, v, rest, good := abi.NextPair(p)
		if !good {
			return 0, nil, false
		}
		p = rest
		if string(k) == abi.NextStatus {
			status, _ = strconv.Atoi(string(v))
			continue
		}
		header = append(header, [2]string{string(k), string(v)})
	}
	return status, header, status >= 200 && status <= 999
}

// mergeHeader applies the downstream's headers to the middleware's: each
// name the downstream sent replaces the middleware's values, except
// Set-Cookie, where both sides' cookies are kept.
func mergeHeader(h http.Header, pairs [][2]string) {
	replaced := map[string]bool{}
	for _, kv := range pairs {
		name := http.CanonicalHeaderKey(kv[0])
		if name != "Set-Cookie" && !replaced[name] {
			replaced[name] = true
			delete(h, name)
		}
		h[name] = append(h[name], kv[1])
	}
}

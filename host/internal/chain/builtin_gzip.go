package chain

import (
	"compress/gzip"
	"context"
	"mime"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/internal/builtins"
)

// The built-in "gzip" middleware: Tornado's compress_response. It
// compresses a response when the client accepts gzip and the content is
// text-like, as it streams (a flush from below flushes the compressor and
// goes on), and leaves alone partial content (206, Content-Range) and bodies
// already encoded. Every response it sees gets Vary: Accept-Encoding, since
// its encoding depends on that header.

// gzipMinLength: a response that ends shorter than this is not worth
// compressing (Tornado's GZipContentEncoding.MIN_LENGTH).
const gzipMinLength = 1024

type gzipLink struct{}

func (gzipLink) name() string  { return builtins.Gzip }
func (gzipLink) builtin() bool { return true }

func (gzipLink) serve(ctx context.Context, call *chainCall, i int, req *linkRequest, out Sink) error {
	gs := &gzipSink{out: out, accepts: acceptsGzip(req.r) && req.r.Method != http.MethodHead}
	err := call.chain.serveAt(ctx, call, i+1, req, gs)
	if err == nil {
		if rc := gs.finish(); rc < 0 && rc != abi.ErrClosed {
			gs.release()
			return &chainError{msg: "gzip: " + abi.ErrnoString(rc)}
		}
	}
	gs.release()
	return err
}

type chainError struct{ msg string }

func (e *chainError) Error() string { return e.msg }

// acceptsGzip reads Accept-Encoding for gzip with a q-value above 0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					return false
				}
			}
			return true
		}
	}
	return false
}

// compressible is Tornado's list: text/* and these.
var compressibleTypes = map[string]bool{
	"application/javascript": true, "application/x-javascript": true, "application/xml": true,
	"application/atom+xml": true, "application/json": true, "application/xhtml+xml": true,
	"image/svg+xml": true,
}

func compressible(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || compressibleTypes[mt]
}

var gzipWriters = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression); return w }}

// gzipSink holds the head until it knows whether to compress: at once for
// a response that cannot be compressed, otherwise once gzipMinLength bytes
// came, a flush, or the end.
type gzipSink struct {
	out     Sink
	accepts bool

	started  bool
	decided  bool
	gzipping bool
	status   int32
	headers  []byte // the head, held until decided
	held     []byte // body held until decided
	zw       *gzip.Writer
	werr     int32 // sticky error from out
}

func (g *gzipSink) StartResponse(status int32, headers []byte) int32 {
	if g.started {
		return abi.ErrState
	}
	// Checked now, as the client's exchange would: the head may be held
	// until the body shows whether to compress, and a guest must learn of
	// bad headers from its start_response, not from a later body_write.
	if _, rc := gateway.CheckStart(status, headers); rc != 0 {
		return rc
	}
	g.started, g.status = true, status
	g.headers = append(g.headers[:0], headers...)
	var ctype string
	candidate := g.accepts && status != http.StatusPartialContent && gateway.BodyAllowed(int(status))
	for enc := headers; len(enc) > 0; {
		k, v, rest, _ := abi.NextPair(enc) // gateway.CheckStart checked them
		enc = rest
		switch textproto.CanonicalMIMEHeaderKey(string(k)) {
		case "Content-Type":
			ctype = string(v)
		case "Content-Encoding", "Content-Range":
			candidate = false
		}
	}
	if !candidate || !compressible(ctype) {
		return g.decide(false)
	}
	return 0
}

// decide sends the head, with the headers compression changes.
func (g *gzipSink) decide(compress bool) int32 {
	g.decided, g.gzipping = true, compress
	var h []byte
	vary := false
	for enc := g.headers; len(enc) > 0; {
		k, v, rest, _ := abi.NextPair(enc)
		enc = rest
		switch textproto.CanonicalMIMEHeaderKey(string(k)) {
		case "Content-Length":
			if compress {
				continue
			}
		case "Vary":
			vary = true
			v = append(append([]byte(nil), v...), ", Accept-Encoding"...)
		}
		h = abi.AppendPair(h, string(k), string(v))
	}
	if !vary {
		h = abi.AppendPair(h, "Vary", "Accept-Encoding")
	}
	if compress {
		h = abi.AppendPair(h, "Content-Encoding", "gzip")
		g.zw = gzipWriters.Get().(*gzip.Writer)
		g.zw.Reset(sinkWriter{g})
	}
	if rc := g.out.StartResponse(g.status, h); rc < 0 {
		return rc
	}
	held := g.held
	g.held = nil
	if len(held) > 0 {
		return g.write(held)
	}
	return 0
}

func (g *gzipSink) write(p []byte) int32 {
	if !g.gzipping {
		return g.out.WriteBody(p)
	}
	g.zw.Write(p)
	return g.werr
}

func (g *gzipSink) WriteBody(p []byte) int32 {
	switch {
	case !g.started:
		return abi.ErrState
	case g.werr < 0:
		return g.werr
	case !g.decided:
		g.held = append(g.held, p...)
		if len(g.held) >= gzipMinLength {
			return g.decide(true)
		}
		return 0
	}
	return g.write(p)
}

func (g *gzipSink) Flush() int32 {
	if !g.started {
		return abi.ErrState
	}
	if !g.decided {
		if rc := g.decide(true); rc < 0 { // a stream: worth compressing
			return rc
		}
	}
	if g.gzipping {
		g.zw.Flush()
		if g.werr < 0 {
			return g.werr
		}
	}
	return g.out.Flush()
}

// finish ends the response after the downstream finished.
func (g *gzipSink) finish() int32 {
	if !g.started {
		return 0 // the caller reports the missing response
	}
	if !g.decided {
		if rc := g.decide(len(g.held) >= gzipMinLength); rc < 0 {
			return rc
		}
	}
	if g.gzipping {
		g.zw.Close()
	}
	return g.werr
}

func (g *gzipSink) release() {
	if g.zw != nil {
		g.zw.Reset(nil)
		gzipWriters.Put(g.zw)
		g.zw = nil
	}
}

// sinkWriter is the compressor's output: the next Sink.
type sinkWriter struct{ g *gzipSink }

func (w sinkWriter) Write(p []byte) (int, error) {
	if w.g.werr < 0 {
		return 0, errBodyRead
	}
	if rc := w.g.out.WriteBody(p); rc < 0 {
		w.g.werr = rc
		return 0, errBodyRead
	}
	return len(p), nil
}

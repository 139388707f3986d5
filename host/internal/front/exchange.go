package front

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/chain"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/host/internal/live"
	"github.com/wasmhost/wasmhost/loader"
)

// responseBufferSize is how much response body the host holds before it
// sends the headers. A response that ends within it and was never flushed
// gets a Content-Length; a longer one streams with chunked encoding. This is
// the "buffer, then stream" rule of net/http, with a buffer large enough that
// typical pages keep their Content-Length.
const responseBufferSize = 64 << 10

// netHTTPBuffered is how much of a body net/http's HTTP/1 server holds
// before it commits to chunked framing (its bufferBeforeChunkingSize).
const netHTTPBuffered = 2048

// exchange is one HTTP request as a guest sees it (loader.Exchange). It is
// reused across requests through a sync.Pool; reset prepares it for one.
type exchange struct {
	site   chain.Site      // static URLs and signed cookies
	client *gateway.Client // &cl
	cl     gateway.Client
	w      http.ResponseWriter
	r      *http.Request
	ctx    context.Context          // the request's deadline and cancellation
	cancel interface{ Cancel() }    // ends ctx (a *reqctx.Context), for a client seen gone
	body   *spool                   // the request body read ahead, nil without one
	rc     *http.ResponseController // &rcv
	rcv    http.ResponseController
	log    hclog.Logger // the plugin's logger
	// cookieScope is the plugin's cookie_scope, in which its signed
	// cookies are signed and verified (host/internal/cookies).
	cookieScope string

	requestID []byte
	env       []byte

	status    int
	header    []byte // the guest's encoded headers, kept until they are sent
	started   bool   // start_response was called
	committed bool   // status and headers went to the client
	flushed   bool
	declared  int64 // Content-Length the guest set, or -1
	written   int64 // body bytes accepted from the guest
	buf       []byte
	gone      bool // writing to the client failed
	tooLarge  bool // the request body exceeded max_body_size

	guestLog  []byte // what the guest logged during this request, bounded
	traceback bool   // serve_traceback for this request

	live *live.Plugin // the plugin's realtime side, nil without one
	sse  []string     // the topics of serve_events, nil when not called
}

func (ex *exchange) reset(site chain.Site, w http.ResponseWriter, r *http.Request, c gateway.Client, log hclog.Logger) {
	ex.site, ex.cl = site, c
	ex.client = &ex.cl
	ex.w, ex.r, ex.body, ex.log = w, r, nil, log
	ex.ctx = r.Context()
	ex.env = ex.env[:0]
	ex.header = ex.header[:0]
	ex.buf = ex.buf[:0]
	ex.guestLog = ex.guestLog[:0]
	ex.status, ex.declared, ex.written = 0, -1, 0
	ex.started, ex.committed, ex.flushed, ex.gone, ex.tooLarge = false, false, false, false, false
	ex.live, ex.sse = nil, nil
}

// release drops references to the request so the pool does not keep it
// alive, and oversized buffers so one huge request does not pin memory.
func (ex *exchange) release() {
	ex.site, ex.client, ex.cl = nil, nil, gateway.Client{}
	ex.w, ex.r, ex.body, ex.log, ex.ctx, ex.rc, ex.rcv = nil, nil, nil, nil, nil, nil, http.ResponseController{}
	ex.cancel = nil
	if cap(ex.env) > 64<<10 {
		ex.env = nil
	}
	if cap(ex.header) > 64<<10 {
		ex.header = nil
	}
	if cap(ex.buf) > responseBufferSize {
		ex.buf = nil
	}
}

func (ex *exchange) Environ() []byte { return ex.env }

func (ex *exchange) ReadBody(p []byte) int32 {
	if ex.body == nil || len(p) == 0 {
		return 0
	}
	n, err := ex.body.Read(ex.ctx, p)
	var tooBig *http.MaxBytesError
	switch {
	case n > 0:
		return int32(n)
	case err == io.EOF:
		return 0
	case errors.As(err, &tooBig):
		ex.tooLarge = true
		return abi.ErrBodyTooLarge
	case ex.ended():
		return abi.ErrClosed
	case clientLeft(err):
		// The connection broke in the middle of the body. net/http does
		// not cancel the request for it (it watches the connection only
		// once the body has been read), so the host does: the request is
		// then a cancellation like any other, and the guest's writes fail.
		ex.endNow()
		return abi.ErrClosed
	}
	return abi.ErrIO
}

// clientLeft reports whether a request body read failed because the
// connection closed or broke, rather than for a malformed body.
func clientLeft(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

func (ex *exchange) StartResponse(status int32, headers []byte) int32 {
	if ex.started {
		return abi.ErrState
	}
	declared, rc := gateway.CheckStart(status, headers)
	if rc != 0 {
		return rc
	}
	ex.status = int(status)
	ex.header = append(ex.header[:0], headers...)
	ex.declared = declared
	ex.started = true
	return 0
}

func (ex *exchange) WriteBody(p []byte) int32 {
	switch {
	case !ex.started:
		return abi.ErrState
	case ex.gone || ex.ended():
		return abi.ErrClosed
	case !gateway.BodyAllowed(ex.status):
		return 0 // net/http would refuse it; drop it as it does for HEAD
	case ex.declared >= 0 && ex.written+int64(len(p)) > ex.declared:
		return abi.ErrLength
	}
	ex.written += int64(len(p))
	if !ex.committed && len(ex.buf)+len(p) <= responseBufferSize {
		ex.buf = append(ex.buf, p...)
		return 0
	}
	if !ex.commit() || !ex.send(p) {
		return abi.ErrClosed
	}
	return 0
}

func (ex *exchange) Flush() int32 {
	if !ex.started {
		return abi.ErrState
	}
	if ex.gone || ex.ended() || !ex.commit() {
		return abi.ErrClosed
	}
	ex.flushed = true
	var err error
	if f, ok := ex.w.(interface{ FlushError() error }); ok {
		err = f.FlushError()
	} else if f, ok := ex.w.(http.Flusher); ok {
		f.Flush()
	}
	if err != nil {
		ex.gone = true
		return abi.ErrClosed
	}
	return 0
}

// ended reports whether the request is over for the guest: the client went
// away (net/http cancels the request's context when it sees the connection
// close) or the deadline passed. Writes then fail at once with ErrClosed,
// even those the host would only have buffered: that failure is how a
// guest learns that nobody reads it, and has its grace to return
// (loader.CancelGrace).
//
// The request's context learns of a client gone from a goroutine that
// net/http's cancellation starts, a moment later; what the host has seen
// it makes known at once (endNow), so that every link of a chain, whose
// contexts derive from this one, agrees that the request was cancelled
// before any of them returns.
func (ex *exchange) ended() bool {
	if ex.ctx.Err() == nil {
		return false
	}
	ex.endNow()
	return true
}

// endNow ends the request's context, with the error it already reports
// (the parent's cancellation, or the deadline) or else Canceled.
func (ex *exchange) endNow() {
	if ex.cancel != nil {
		ex.cancel.Cancel()
	}
}

func (ex *exchange) Log(rec loader.Record) {
	ex.guestLog = gateway.LogGuest(ex.log, string(ex.requestID), rec, ex.guestLog)
}

func (ex *exchange) StaticURL(path string) string { return ex.site.StaticURL(path) }

// The client's exchange (a plugin without middleware) signs and verifies
// cookies in its plugin's scope; it never has an XSRF token, which only
// the xsrf built-in sets.

func (ex *exchange) SignCookie(name, value string) (string, int32) {
	return ex.site.SignCookie(ex.cookieScope, name, value)
}

func (ex *exchange) VerifyCookie(name, signed string) (string, int32) {
	return ex.site.VerifyCookie(ex.cookieScope, name, signed)
}

func (ex *exchange) XSRFToken() (string, int32) { return "", abi.ErrUnavailable }

// FinalWriteGrace is how long the host may take to write an answer of its
// own (an error page, a buffered response) once the guest is done, when the
// request's deadline is nearer than that or past.
const FinalWriteGrace = 5 * time.Second

// allowFinalWrite moves the connection's write deadline, set to the
// request's deadline, far enough out that the host can still send the
// answer. A client that does not read it holds a connection for that long,
// never an instance.
func (ex *exchange) allowFinalWrite(deadline time.Time) {
	if time.Until(deadline) < FinalWriteGrace {
		_ = ex.rc.SetWriteDeadline(time.Now().Add(FinalWriteGrace))
	}
}

// commit sends the status and headers (and what is buffered) once.
func (ex *exchange) commit() bool {
	if ex.committed {
		return !ex.gone
	}
	ex.committed = true
	h := ex.w.Header()
	gateway.CopyHeaders(h, ex.header)
	ex.w.WriteHeader(ex.status)
	if len(ex.buf) > 0 {
		ok := ex.send(ex.buf)
		ex.buf = ex.buf[:0]
		return ok
	}
	return true
}

func (ex *exchange) send(p []byte) bool {
	if _, err := ex.w.Write(p); err != nil {
		ex.gone = true
		return false
	}
	return true
}

// finishOK completes a response after the guest returned successfully. A
// response that was never sent gets its Content-Length here, so keep-alive
// clients need no chunked framing for it.
func (ex *exchange) finishOK() {
	if ex.committed {
		return
	}
	// net/http computes the same Content-Length itself for a body it
	// holds whole when the handler returns (up to 2 KiB on HTTP/1); set
	// it here only beyond that.
	if ex.declared < 0 && gateway.BodyAllowed(ex.status) && (len(ex.buf) > netHTTPBuffered || ex.r.ProtoMajor != 1) {
		ex.w.Header().Set("Content-Length", strconv.Itoa(len(ex.buf)))
	}
	ex.commit()
}

// bytesSent is the body size for the access log.
func (ex *exchange) bytesSent() int64 {
	if !ex.committed {
		return 0
	}
	return ex.written
}

package chain

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/loader"
)

// linkExchange is the request as a plugin in a chain sees it
// (loader.ChainExchange): its environ is the request as the link above
// left it, its body comes from req.body, its response goes to out, and,
// for a middleware, next_* run the rest of the chain.
type linkExchange struct {
	ctx  context.Context
	call *chainCall
	idx  int
	req  *linkRequest
	out  Sink
	env  []byte
	log  hclog.Logger
	down *downstream // after next_start
	// cookieScope is this link's plugin's: in a chain each link signs and
	// verifies in its own, not in that of the plugin at the end.
	cookieScope string
}

func newLinkExchange(ctx context.Context, call *chainCall, i int, req *linkRequest, out Sink, fixed []byte, p Plugin) *linkExchange {
	return &linkExchange{
		ctx: ctx, call: call, idx: i, req: req, out: out, log: p.Log(), cookieScope: p.CookieScope(),
		env: gateway.AppendEnviron(nil, req.r, call.client, call.scriptName, req.pathInfo, []byte(call.requestID), fixed),
	}
}

func (lx *linkExchange) Environ() []byte { return lx.env }

func (lx *linkExchange) ReadBody(p []byte) int32 {
	if lx.req.body == nil || len(p) == 0 {
		return 0
	}
	return lx.req.body.ReadBody(p)
}

func (lx *linkExchange) StartResponse(status int32, headers []byte) int32 {
	return lx.out.StartResponse(status, headers)
}

func (lx *linkExchange) WriteBody(p []byte) int32 { return lx.out.WriteBody(p) }
func (lx *linkExchange) Flush() int32             { return lx.out.Flush() }

// Log is the client's exchange's Log: a link's records keep their level
// and fields, and what every link logged is on the error page.
func (lx *linkExchange) Log(rec loader.Record) {
	c := lx.call
	c.logMu.Lock() // links log from goroutines of their own
	defer c.logMu.Unlock()
	c.guestLog = gateway.LogGuest(lx.log, c.requestID, rec, c.guestLog)
}

func (lx *linkExchange) StaticURL(path string) string { return lx.call.site.StaticURL(path) }

func (lx *linkExchange) SignCookie(name, value string) (string, int32) {
	return lx.call.site.SignCookie(lx.cookieScope, name, value)
}

func (lx *linkExchange) VerifyCookie(name, signed string) (string, int32) {
	return lx.call.site.VerifyCookie(lx.cookieScope, name, signed)
}

func (lx *linkExchange) XSRFToken() (string, int32) {
	if lx.call.xsrf == nil {
		return "", abi.ErrUnavailable
	}
	return maskXSRF(lx.call.xsrf), 0
}

// NextStart starts the rest of the chain on a goroutine of its own.
func (lx *linkExchange) NextStart(desc []byte, flags uint32) int32 {
	if lx.down != nil || lx.idx+1 >= len(lx.call.chain.links) {
		return abi.ErrState
	}
	req, ok := lx.downstreamRequest(desc)
	if !ok {
		return abi.ErrInvalid
	}
	d := newDownstream(lx.ctx)
	switch {
	case flags&abi.NextHasBody == 0:
	case flags&abi.NextOwnBody != 0:
		req.body = &lockedBody{src: &pumpBody{d: d, max: lx.call.maxBody, tooLarge: &lx.call.tooLarge}}
	default:
		req.body = lx.req.body // what is left of this link's own body
	}
	lx.down = d
	go d.run(lx.call, lx.idx+1, req)
	return 0
}

// downstreamRequest builds the request the middleware described.
func (lx *linkExchange) downstreamRequest(desc []byte) (*linkRequest, bool) {
	r := new(http.Request)
	*r = *lx.req.r
	u := *r.URL
	r.URL = &u
	r.Header = make(http.Header)
	r.ContentLength = -1
	pathInfo := lx.req.pathInfo
	for len(desc) > 0 {
		k, v, rest, _ := abi.NextPair(desc)
		desc = rest
		switch key := string(k); key {
		case abi.NextMethod:
			if !gateway.ValidName(v) {
				return nil, false
			}
			r.Method = string(v)
		case abi.NextPath:
			if len(v) > 0 && v[0] != '/' {
				return nil, false
			}
			pathInfo = string(v)
		case abi.NextQuery:
			r.URL.RawQuery = string(v)
		case abi.NextHost:
			r.Host = string(v)
		case abi.NextContentLength:
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 {
				return nil, false
			}
			r.ContentLength = n
		default:
			if !gateway.ValidName(k) || !gateway.ValidValue(v) {
				return nil, false
			}
			name := http.CanonicalHeaderKey(key)
			if name == "Content-Length" || name == "Host" {
				continue // :content_length and :host say them
			}
			r.Header[name] = append(r.Header[name], string(v))
		}
	}
	r.URL.Path, r.URL.RawPath = lx.call.scriptName+pathInfo, ""
	return &linkRequest{r: r, pathInfo: pathInfo}, true
}

// NextWait hands the middleware the downstream's next event, first
// releasing the downstream from the one before.
func (lx *linkExchange) NextWait() (int32, uint32) {
	d := lx.down
	if d == nil || d.finished {
		return abi.ErrState, 0
	}
	if d.pending {
		d.pending = false
		if d.cur.kind == abi.EventBodyWanted {
			d.answer(abi.ErrIO) // asked for a body and not given any
		} else {
			d.answer(0)
		}
	}
	select {
	case ev := <-d.events:
		if ev.kind == eventFinal {
			d.finished = true
			switch {
			case d.failed == nil:
				return abi.EventDone, 0
			case isStop(d.failed):
				// Cancelled or out of time, not broken: the request is
				// over for the middleware too.
				return abi.ErrClosed, 0
			}
			return abi.ErrDownstream, 0
		}
		d.cur, d.pending, d.off = ev, true, 0
		return ev.kind, uint32(ev.size)
	case <-d.ctx.Done():
		return abi.ErrClosed, 0
	}
}

func (lx *linkExchange) NextRead(p []byte) int32 {
	d := lx.down
	if d == nil || !d.pending || (d.cur.kind != abi.EventHead && d.cur.kind != abi.EventBody) {
		return 0
	}
	d.lent.mu.Lock()
	defer d.lent.mu.Unlock()
	if d.off >= len(d.lent.data) {
		return 0 // all read, or taken back: the downstream's request ended
	}
	n := copy(p, d.lent.data[d.off:])
	d.off += n
	return int32(n)
}

func (lx *linkExchange) NextBody(p []byte, errno int32) int32 {
	d := lx.down
	if d == nil || !d.pending || d.cur.kind != abi.EventBodyWanted {
		return abi.ErrState
	}
	if errno >= 0 && len(p) > d.cur.size {
		return abi.ErrInvalid
	}
	d.pending = false
	if errno < 0 {
		d.answer(errno)
		return 0
	}
	d.lent.mu.Lock()
	n := copy(d.lent.data, p) // 0 when taken back: the answer is not awaited then
	d.lent.mu.Unlock()
	d.answer(int32(n))
	return 0
}

// eventFinal is the downstream's last event: done, or failed when
// downstream.failed is set. It needs no answer.
const eventFinal = 0

// chainEvent is one event from a downstream: its kind and the size of its
// payload, which stays with the downstream (downstream.lent).
type chainEvent struct {
	kind int32
	size int
}

// lentBytes is the payload of the event being handed over: a slice of the
// downstream guest's memory (a body piece it wrote, or its buffer to fill
// for EventBodyWanted), or of the host's (a head). The downstream lends it
// for as long as its send waits and takes it back, under mu, before send
// returns, whatever ends the wait; the middleware copies only under mu. So
// no copy can touch that memory once the downstream's host call is over,
// by which time its guest may have moved on to another request or been
// closed: no slice of guest memory outlives the call that lent it.
type lentBytes struct {
	mu   sync.Mutex
	data []byte
}

func (l *lentBytes) set(p []byte) {
	l.mu.Lock()
	l.data = p
	l.mu.Unlock()
}

// downstream connects a middleware's guest (the NextWait side, on the
// middleware's goroutine) with the rest of its chain (run, on its own).
type downstream struct {
	ctx    context.Context
	cancel context.CancelFunc
	events chan chainEvent
	acks   chan int32    // one answer per event but the final one; unbuffered, so an answer is never left over for the next event
	lent   lentBytes     // the current event's payload
	stop   chan struct{} // closed when the middleware's call is over
	done   chan struct{} // closed when run has returned
	failed error         // why the downstream failed; read after its final event or done

	// The middleware side's state, used only on its goroutine.
	cur      chainEvent
	pending  bool // cur awaits an answer
	off      int  // how much of cur.data NextRead has given
	finished bool
}

func newDownstream(parent context.Context) *downstream {
	ctx, cancel := context.WithCancel(parent)
	return &downstream{
		ctx: ctx, cancel: cancel,
		events: make(chan chainEvent),
		acks:   make(chan int32),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// run serves the rest of the chain and reports how it ended.
func (d *downstream) run(call *chainCall, i int, req *linkRequest) {
	defer close(d.done)
	es := &eventSink{d: d, declared: -1}
	err := call.chain.serveAt(d.ctx, call, i, req, es)
	if err == nil && !es.started {
		err = &loader.GuestError{Kind: "protocol", Message: "the handler returned without calling start_response"}
	}
	if err != nil && !es.started && !isStop(err) {
		// Nothing reached the middleware yet: it gets the error page a
		// client would, and may replace it with a page of its own.
		status := http.StatusInternalServerError
		if err == loader.ErrClosed {
			status = http.StatusServiceUnavailable
		}
		msg := strconv.Itoa(status) + " " + http.StatusText(status) + "\n"
		if call.traceback {
			// serve_traceback: the same internals a client would see
			// without the middleware.
			msg += "\nplugin " + call.chain.links[i].name() + ": " + err.Error() + "\n"
		}
		es.StartResponse(int32(status), gateway.ErrorHeaders)
		es.WriteBody([]byte(msg))
		err = nil
	}
	d.failed = err
	select {
	case d.events <- chainEvent{kind: eventFinal}:
	case <-d.stop:
	}
}

// stopAndWait ends the downstream once the middleware's call is over:
// whatever it was doing, it stops, and its goroutine is gone on return.
func (d *downstream) stopAndWait() {
	close(d.stop)
	d.cancel()
	<-d.done
}

// send hands one event to the middleware and waits for its answer. Once
// the request has ended it hands nothing: a select would pick at random
// between a waiting middleware and the end.
func (d *downstream) send(kind int32, data []byte) int32 {
	if d.ctx.Err() != nil {
		return abi.ErrClosed
	}
	d.lent.set(data)
	defer d.lent.set(nil)
	select {
	case d.events <- chainEvent{kind: kind, size: len(data)}:
	case <-d.stop:
		return abi.ErrClosed
	case <-d.ctx.Done():
		return abi.ErrClosed
	}
	select {
	case rc := <-d.acks:
		return rc
	case <-d.stop:
		return abi.ErrClosed
	case <-d.ctx.Done():
		return abi.ErrClosed
	}
}

// answer tells the downstream's send that the middleware is done with the
// event. When the request has ended that send no longer waits for it.
func (d *downstream) answer(rc int32) {
	select {
	case d.acks <- rc:
	case <-d.ctx.Done():
	}
}

// eventSink is the response side of a downstream: each call becomes an
// event for the middleware, and returns once the middleware is done with it.
type eventSink struct {
	d        *downstream
	started  bool
	status   int
	declared int64
	written  int64
}

func (es *eventSink) StartResponse(status int32, headers []byte) int32 {
	if es.started {
		return abi.ErrState
	}
	declared, rc := gateway.CheckStart(status, headers)
	if rc != 0 {
		return rc
	}
	es.started, es.status, es.declared = true, int(status), declared
	head := make([]byte, 0, len(headers)+32)
	head = abi.AppendPair(head, abi.NextStatus, strconv.Itoa(int(status)))
	head = append(head, headers...)
	if rc := es.d.send(abi.EventHead, head); rc < 0 {
		return rc
	}
	return 0
}

func (es *eventSink) WriteBody(p []byte) int32 {
	switch {
	case !es.started:
		return abi.ErrState
	case len(p) == 0:
		return 0
	case es.declared >= 0 && es.written+int64(len(p)) > es.declared:
		return abi.ErrLength
	}
	es.written += int64(len(p))
	return es.d.send(abi.EventBody, p)
}

func (es *eventSink) Flush() int32 {
	if !es.started {
		return abi.ErrState
	}
	return es.d.send(abi.EventFlush, nil)
}

// pumpBody is the body a middleware supplies to its downstream: each read
// asks the middleware's guest for bytes, straight into the reader's buffer.
// max_body_size applies to it as to a client's body.
type pumpBody struct {
	d        *downstream
	max      int64
	tooLarge *atomic.Bool
	total    int64
	err      int32 // sticky end: 0 after EOF, or an errno
	ended    bool
}

func (b *pumpBody) ReadBody(p []byte) int32 {
	if b.ended || len(p) == 0 {
		return b.err
	}
	if len(p) > abi.MaxWriteBytes {
		p = p[:abi.MaxWriteBytes]
	}
	rc := b.d.send(abi.EventBodyWanted, p)
	switch {
	case rc > 0:
		b.total += int64(rc)
		if b.total > b.max {
			b.tooLarge.Store(true)
			b.ended, b.err = true, abi.ErrBodyTooLarge
			return b.err
		}
		return rc
	default:
		b.ended, b.err = true, rc
		return rc
	}
}

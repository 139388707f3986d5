package loader

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/outbound"
)

// The outbound HTTP host functions (abi/services.go). A request is a
// handle: the round trip runs on its own goroutine, fed by a pipe that
// http_body_write writes one guest buffer at a time, and its response body
// is read one guest buffer at a time, so neither side holds a whole body.
// Every request runs under a context derived from the inbound request's:
// when that ends (deadline, client gone), the outbound one is cancelled
// and its place among the plugin's requests in flight is given back.

func init() {
	hostFunctions = append(hostFunctions,
		hostFunction{abi.ImportHTTPRequest, blocking(httpRequest), []valueType{i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportHTTPBodyWrite, blocking(httpBodyWrite), []valueType{i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportHTTPBodyClose, blocking(httpBodyClose), []valueType{i32}, []valueType{i32}},
		hostFunction{abi.ImportHTTPResponse, blocking(httpResponse), []valueType{i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportHTTPBodyRead, blocking(httpBodyRead), []valueType{i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportHTTPClose, httpClose, []valueType{i32}, []valueType{i32}},
	)
}

// maxOpenRequests bounds the handles one instance holds at once (the
// plugin-wide bound on requests in flight is the outbound client's).
const maxOpenRequests = 64

type outboundRequest struct {
	ctx    context.Context
	cancel context.CancelFunc
	url    string
	bodyR  *io.PipeReader // nil without a body
	bodyW  *io.PipeWriter

	done    chan struct{} // closed when the round trip returned
	resp    *http.Response
	err     error
	release func()
	once    sync.Once
}

// cleanup gives back what the request holds; it runs once, when its
// context ends (http_close cancels it, and so does the inbound request's
// end).
func (r *outboundRequest) cleanup() {
	r.once.Do(func() {
		if r.bodyR != nil {
			r.bodyR.CloseWithError(context.Canceled)
		}
		<-r.done
		if r.resp != nil {
			r.resp.Body.Close()
		}
		if r.release != nil {
			r.release()
		}
	})
}

func httpRequest(ctx context.Context, mem guestMemory, stack []uint64) {
	head := limitedBytes(mem, abi.ImportHTTPRequest, argU32(stack, 0), argU32(stack, 1), abi.MaxHeaderBytes)
	flags := argU32(stack, 2)
	inst := instanceOf(ctx)
	if inst == nil {
		setResult(stack, abi.ErrState)
		return
	}
	inst.svc.held = nil
	var method, url string
	hdr := http.Header{}
	for len(head) > 0 {
		k, v, rest, ok := abi.NextPair(head)
		if !ok {
			inst.fail(stack, abi.ErrInvalid, "http_request: malformed head")
			return
		}
		head = rest
		switch string(k) {
		case ":method":
			method = string(v)
		case ":url":
			url = string(v)
		default:
			if len(k) > 0 && k[0] == ':' {
				// Only the two above exist: an :authority or :path of the
				// guest's would say where to go besides the URL.
				inst.fail(stack, abi.ErrInvalid, "http_request: unknown pseudo-header %q", k)
				return
			}
			hdr.Add(string(k), string(v))
		}
	}
	var client Outbound = outbound.DenyAll // without services: refused before anything is built
	if svc := inst.plugin.cfg.Services; svc != nil && svc.Outbound() != nil {
		client = svc.Outbound()
	}
	rctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(rctx, method, url, nil)
	if err != nil {
		cancel()
		inst.fail(stack, abi.ErrInvalid, "outbound request: %s", err)
		return
	}
	req.Header = hdr
	if hs := hdr.Values("Host"); len(hs) > 0 {
		// net/http sends req.Host, not a Host header. Any further Host
		// entries stay in the header (net/http never sends them) for
		// Check, which refuses a Host that names another destination.
		req.Host = hs[0]
		hdr["Host"] = hs[1:]
	}
	if err := client.Check(req); err != nil {
		cancel()
		inst.refused(err)
		inst.fail(stack, abi.ErrDenied, "%s", err)
		return
	}
	inst.sweepRequests()
	if len(inst.svc.requests) >= maxOpenRequests {
		cancel()
		inst.fail(stack, abi.ErrBusy, "more than %d outbound requests open at once", maxOpenRequests)
		return
	}
	r := &outboundRequest{ctx: rctx, cancel: cancel, url: req.URL.Redacted(), done: make(chan struct{})}
	if flags&abi.HTTPHasBody != 0 {
		r.bodyR, r.bodyW = io.Pipe()
		req.Body = r.bodyR
		req.ContentLength = -1
		if n, err := strconv.ParseInt(hdr.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			req.ContentLength = n
		}
		if req.ContentLength == 0 {
			// Nothing will read the pipe: a body write fails at once
			// rather than waiting for the request's deadline.
			req.Body = http.NoBody
			r.bodyR.CloseWithError(errEmptyBody)
		}
	}
	go func() {
		r.resp, r.release, r.err = client.RoundTrip(req)
		// Logged before the guest can see the error, so the log has it
		// by the time the plugin reports the failure.
		if denied(r.err) {
			inst.refused(r.err)
		}
		close(r.done)
	}()
	context.AfterFunc(rctx, r.cleanup)
	if inst.svc.requests == nil {
		inst.svc.requests = map[int32]*outboundRequest{}
	}
	inst.svc.nextReq++
	if inst.svc.nextReq <= 0 {
		inst.svc.nextReq = 1
	}
	inst.svc.requests[inst.svc.nextReq] = r
	setResult(stack, inst.svc.nextReq)
}

// errEmptyBody is why a body write to a request that declared
// Content-Length: 0 fails.
var errEmptyBody = errors.New("the request declared Content-Length: 0")

// denied reports an error that is a refused destination (see Services).
func denied(err error) bool {
	code, ok := errnoOf(err)
	return ok && code == abi.ErrDenied
}

// refused logs a destination the sandbox refused: an operator should see
// what a plugin tried to reach.
func (inst *instance) refused(err error) {
	inst.plugin.log.Warn("outbound request refused", "plugin", inst.plugin.Name, "error", err.Error())
}

// sweepRequests forgets requests whose inbound request has ended.
func (inst *instance) sweepRequests() {
	for h, r := range inst.svc.requests {
		if r.ctx.Err() != nil {
			delete(inst.svc.requests, h)
		}
	}
}

func (inst *instance) request(stack []uint64, fn string, h int32) *outboundRequest {
	r := inst.svc.requests[h]
	if r == nil {
		inst.fail(stack, abi.ErrHandle, "%s: %d is not an open outbound request", fn, h)
	}
	return r
}

func requestCall(ctx context.Context, stack []uint64, fn string) (*instance, *outboundRequest) {
	inst := instanceOf(ctx)
	if inst == nil {
		setResult(stack, abi.ErrState)
		return nil, nil
	}
	inst.svc.held = nil
	r := inst.request(stack, fn, argI32(stack, 0))
	if r == nil {
		return nil, nil
	}
	return inst, r
}

func httpBodyWrite(ctx context.Context, mem guestMemory, stack []uint64) {
	p := limitedBytes(mem, abi.ImportHTTPBodyWrite, argU32(stack, 1), argU32(stack, 2), abi.MaxHTTPBodyChunk)
	inst, r := requestCall(ctx, stack, abi.ImportHTTPBodyWrite)
	if r == nil {
		return
	}
	if r.bodyW == nil {
		inst.fail(stack, abi.ErrState, "http_body_write: the request was started without a body")
		return
	}
	// The pipe hands p to the transport's reader and returns once it has
	// been consumed: p (guest memory) is not kept after the call.
	if _, err := r.bodyW.Write(p); err != nil {
		inst.fail(stack, abi.ErrClosed, "outbound request to %s: the request body could not be sent: %s", r.url, err)
		return
	}
	setResult(stack, 0)
}

func httpBodyClose(ctx context.Context, _ guestMemory, stack []uint64) {
	_, r := requestCall(ctx, stack, abi.ImportHTTPBodyClose)
	if r == nil {
		return
	}
	if r.bodyW != nil {
		r.bodyW.Close()
	}
	setResult(stack, 0)
}

// wait waits for the response head; ok is false when the result is set.
func (inst *instance) wait(stack []uint64, r *outboundRequest) bool {
	<-r.done
	if r.err == nil {
		return true
	}
	switch {
	case denied(r.err):
		inst.fail(stack, abi.ErrDenied, "%s", r.err)
	case r.ctx.Err() != nil:
		inst.fail(stack, abi.ErrClosed, "outbound request to %s: cancelled (the inbound request ended, or the request was closed)", r.url)
	default:
		inst.fail(stack, abi.ErrService, "%s", r.err)
	}
	return false
}

func httpResponse(ctx context.Context, mem guestMemory, stack []uint64) {
	inst, r := requestCall(ctx, stack, abi.ImportHTTPResponse)
	if r == nil || !inst.wait(stack, r) {
		return
	}
	head := abi.AppendPair(nil, ":status", strconv.Itoa(r.resp.StatusCode))
	for k, vs := range r.resp.Header {
		for _, v := range vs {
			head = abi.AppendPair(head, k, v)
		}
	}
	inst.deliver(mem, abi.ImportHTTPResponse, stack, argU32(stack, 1), argU32(stack, 2), head)
}

func httpBodyRead(ctx context.Context, mem guestMemory, stack []uint64) {
	bufLen := argU32(stack, 2)
	if bufLen > abi.MaxHTTPBodyChunk {
		bufLen = abi.MaxHTTPBodyChunk
	}
	buf := guestBytes(mem, abi.ImportHTTPBodyRead, argU32(stack, 1), bufLen)
	inst, r := requestCall(ctx, stack, abi.ImportHTTPBodyRead)
	if r == nil || !inst.wait(stack, r) {
		return
	}
	if len(buf) == 0 {
		setResult(stack, 0)
		return
	}
	for {
		n, err := r.resp.Body.Read(buf)
		if n > 0 {
			setResult(stack, int32(n))
			return
		}
		switch {
		case err == io.EOF:
			setResult(stack, 0)
			return
		case err != nil && r.ctx.Err() != nil:
			inst.fail(stack, abi.ErrClosed, "outbound request to %s: cancelled", r.url)
			return
		case err != nil:
			inst.fail(stack, abi.ErrIO, "outbound request to %s: reading the response body: %s", r.url, err)
			return
		}
	}
}

func httpClose(ctx context.Context, _ guestMemory, stack []uint64) {
	inst, r := requestCall(ctx, stack, abi.ImportHTTPClose)
	if r == nil {
		return
	}
	delete(inst.svc.requests, argI32(stack, 0))
	r.cancel()
	setResult(stack, 0)
}

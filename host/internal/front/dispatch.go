package front

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/chain"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/internal/reqctx"
	"github.com/wasmhost/wasmhost/loader"
)

// Serve routes a request to its plugin in site and runs the plugin's
// guest, or answers itself: 414, a redirect to the clean path, a static
// file, 404, the plugin's failure page, 501 for a WebSocket, 413.
func (f *Front) Serve(w http.ResponseWriter, r *http.Request, site *Site) {
	start := time.Now()
	cfg := site.Server
	c := gateway.ResolveClient(cfg, r)
	if int64(len(r.RequestURI)) > cfg.MaxURLLength {
		f.plainError(w, r, ptr(c), http.StatusRequestURITooLong, "414 URI too long", start, "")
		return
	}
	if p := r.URL.Path; p != "" && p[0] == '/' && hasDotSegments(p) {
		// Clean before routing, as net/http's ServeMux does, so "/env/../x"
		// can never reach the plugin at "/env" as a path outside its mount.
		f.redirectClean(w, r, ptr(c), start)
		return
	}
	if site.Static != nil && site.Static.Matches(r.URL.Path) {
		f.serveStatic(site.Static, w, r, ptr(c), start)
		return
	}
	rt, scriptName, pathInfo := site.Routes.match(r.URL.Path)
	if rt == nil {
		f.plainError(w, r, ptr(c), http.StatusNotFound, "404 page not found", start, "")
		return
	}
	p := rt.Plugin
	name := p.Name()
	if _, _, msg, down := p.Serving(); down {
		f.serveFailure(w, r, ptr(c), start, name, msg)
		return
	}
	if lv := realtimeOf(p); lv != nil && lv.Endpoint() != nil && realtime.IsUpgrade(r) {
		f.serveWebSocket(w, r, c, lv, name, scriptName, pathInfo, start)
		return
	}
	if isWebSocketUpgrade(r) {
		f.plainError(w, r, ptr(c), http.StatusNotImplemented, webSocketRefusal, start, name)
		return
	}
	if r.ContentLength > cfg.MaxBodySize {
		f.plainError(w, r, ptr(c), http.StatusRequestEntityTooLarge, "413 request body too large", start, name)
		return
	}
	ex := f.exchanges.Get().(*exchange)
	defer func() {
		ex.release()
		f.exchanges.Put(ex)
	}()
	f.serveGuest(w, r, ex, c, site, rt, scriptName, pathInfo, start)
}

// serveGuest runs the guest of a routed request (through its chain, if it
// has one) on the exchange ex, and finishes the response.
func (f *Front) serveGuest(w http.ResponseWriter, r *http.Request, ex *exchange, c gateway.Client, site *Site, rt *Route, scriptName, pathInfo string, start time.Time) {
	cfg, p := site.Server, rt.Plugin
	pc := p.Config()
	ex.reset(f.services, w, r, c, p.Log())
	ex.cookieScope = pc.CookieScope
	ex.live = realtimeOf(p)
	ex.requestID = f.appendRequestID(ex.requestID[:0])
	ex.traceback = cfg.ServeTraceback
	// The deadline counts from the request's arrival at the handler.
	ctx := reqctx.WithDeadline(r.Context(), start.Add(pc.Timeout))
	defer ctx.Cancel()
	ex.ctx, ex.cancel = ctx, ctx
	// The plugin's timeout bounds everything the request does, not only
	// guest code: a client that stops reading the response makes the write
	// that the guest waits on fail at the deadline.
	ex.rcv = *http.NewResponseController(w)
	ex.rc = &ex.rcv
	deadline, _ := ctx.Deadline()
	_ = ex.rc.SetWriteDeadline(deadline)
	var flags uint32
	if r.Body != nil && r.Body != http.NoBody {
		flags |= abi.FlagHasBody
		if r.ProtoMajor == 1 {
			// The spool reads the body while the guest may already be
			// answering; HTTP/2 always can.
			_ = ex.rc.EnableFullDuplex()
		}
		ex.body = newSpool(r.Body, bodyLimits{
			max: cfg.MaxBodySize, minRate: pc.Body.MinRate, grace: pc.Body.MinRateGrace,
			interrupt: func() { _ = ex.rc.SetReadDeadline(time.Now()) },
		})
		defer ex.body.release()
		if !f.readAhead(ctx, w, r, ex, p, min(pc.Body.ReadAhead, cfg.MaxBodySize), start) {
			return
		}
	}

	var err error
	var lp *loader.Plugin
	if rt.Chain != nil {
		// Through its middleware; the deadline covers every link.
		err = f.serveChain(ctx, rt.Chain, ex, site, scriptName, pathInfo, flags)
	} else {
		lp, err = f.servePlugin(ctx, ex, p, scriptName, pathInfo, flags)
	}
	if ex.body != nil {
		// Take the rest of the body before answering, within the deadline:
		// the connection stays usable for the client's next request, and a
		// body that passes max_body_size is answered with 413 however the
		// guest treated it.
		whole := ex.body.complete(ctx, func() { _ = ex.rc.SetReadDeadline(time.Now()) })
		ex.tooLarge = ex.tooLarge || ex.body.tooLarge()
		if !whole && !ex.committed {
			w.Header().Set("Connection", "close")
		}
	}
	if err == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The guest returned, but only because a body read or a write to
		// the client was cut off at the deadline.
		err = loader.ErrTimeout
		if lp != nil {
			p.CountCutTimeout()
		}
	}
	if err == nil && ex.sse != nil && !ex.started && ex.live.Hub() != nil {
		f.serveStream(w, r, ex, p.Name(), start)
		return
	}
	ex.allowFinalWrite(deadline)
	f.finish(w, r, ex, p, err, start)
}

// servePlugin runs the plugin's guest on ex; it returns the version that
// served.
func (f *Front) servePlugin(ctx context.Context, ex *exchange, p Plugin, scriptName, pathInfo string, flags uint32) (*loader.Plugin, error) {
	for attempt := 0; ; attempt++ {
		lp, fixed := p.Current()
		ex.env = gateway.AppendEnviron(ex.env[:0], ex.r, ex.client, scriptName, pathInfo, ex.requestID, fixed)
		err := lp.Serve(ctx, ex, flags)
		// ErrClosed comes only from a pool that a swap closed while
		// this request waited for an instance: the guest never ran, so
		// the request can go to the version that replaced it.
		if err != loader.ErrClosed || attempt == 3 || p.Serves(lp) {
			return lp, err
		}
	}
}

// serveChain runs a request through its chain, with ex (the client's
// exchange) as the outermost sink and body source.
func (f *Front) serveChain(ctx context.Context, ch *chain.Chain, ex *exchange, site *Site, scriptName, pathInfo string, flags uint32) error {
	req := chain.Request{
		R: ex.r, Client: ex.client, ScriptName: scriptName, PathInfo: pathInfo, RequestID: string(ex.requestID),
		MaxBody: site.Server.MaxBodySize, Traceback: ex.traceback,
		Site: f.services, GuestLog: ex.guestLog,
	}
	if flags&abi.FlagHasBody != 0 {
		req.Body = ex
	}
	res, err := ch.Serve(ctx, req, ex)
	ex.guestLog = res.GuestLog
	if res.TooLarge {
		ex.tooLarge = true
	}
	return err
}

// readAhead waits, before an instance is taken, for the body to arrive
// whole or to reach the plugin's body_read_ahead, so that a client
// trickling a small body holds a goroutine and a few KiB, never an
// instance. When the body stops short it answers the request itself and
// reports false: 408 for a body below min_body_rate or past the request's
// deadline, 413 past max_body_size, 400 for a body cut off by the client.
func (f *Front) readAhead(ctx context.Context, w http.ResponseWriter, r *http.Request, ex *exchange, p Plugin, bound int64, start time.Time) bool {
	if ex.body.await(ctx, bound) {
		if n := ex.body.received(); n >= 0 && r.ContentLength < 0 {
			// A chunked body read whole has a length now; the guest sees
			// it in CONTENT_LENGTH, as behind nginx's request buffering.
			r.ContentLength = n
			r.Header.Set("Content-Length", strconv.FormatInt(n, 10))
		}
		return true
	}
	ex.body.complete(ctx, func() { _ = ex.rc.SetReadDeadline(time.Now()) })
	name, pc := p.Name(), p.Config()
	w.Header().Set("Connection", "close")
	// In this order: a read cut short by its deadline also cancels the
	// request's context (net/http takes any read error for the client's
	// going away), so a cancelled context says "gone" only after the rest.
	switch {
	case ex.body.tooLarge():
		f.plainError(w, r, ex.client, http.StatusRequestEntityTooLarge, "413 request body too large", start, name)
	case ex.body.tooSlow() || errors.Is(ctx.Err(), context.DeadlineExceeded):
		p.Log().Info("request body too slow; no instance was taken", "request_id", string(ex.requestID),
			"min_body_rate", pc.Body.MinRate, "timeout", pc.Timeout)
		f.plainError(w, r, ex.client, http.StatusRequestTimeout, "408 request body too slow", start, name)
	case r.Context().Err() != nil:
		f.logAccess(r, ex.client, 499, 0, start, name) // the client went away
	default:
		f.plainError(w, r, ex.client, http.StatusBadRequest, "400 incomplete request body", start, name)
	}
	return false
}

// finish completes the response according to how the guest call ended.
func (f *Front) finish(w http.ResponseWriter, r *http.Request, ex *exchange, p Plugin, err error, start time.Time) {
	name, c := p.Name(), ex.client
	switch {
	case ex.body != nil && ex.body.tooSlow() && !ex.committed:
		// Whatever the guest made of a body cut for its rate (an error, or
		// a cancellation: the cut read also cancels the request), the
		// client learns why.
		p.Log().Info("request body too slow; cut while the plugin read it", "request_id", string(ex.requestID),
			"min_body_rate", p.Config().Body.MinRate)
		w.Header().Set("Connection", "close")
		f.plainError(w, r, c, http.StatusRequestTimeout, "408 request body too slow", start, name)
		return
	case err == nil && !ex.started:
		err = &loader.GuestError{Kind: "protocol", Message: "the handler returned without calling start_response"}
	case err == nil && ex.tooLarge && !ex.committed:
		// The guest gave up on the body and answered anyway; the client
		// still deserves to learn why.
		w.Header().Set("Connection", "close")
		f.plainError(w, r, c, http.StatusRequestEntityTooLarge, "413 request body too large", start, name)
		return
	case err == nil && ex.body != nil && ex.body.tooSlow():
		err = &loader.GuestError{Kind: "body", Message: "the request body fell below min_body_rate while the response was streaming"}
	case err == nil && ex.tooLarge:
		// The response was already streaming when the body passed the
		// limit: whatever the guest made of a cut-off body must not look
		// like a complete answer.
		err = &loader.GuestError{Kind: "body", Message: "the request body passed max_body_size while the response was streaming"}
	case err == nil:
		ex.finishOK()
		f.logAccess(r, c, ex.status, ex.bytesSent(), start, name)
		return
	}

	status := statusFor(err, ex)
	f.logFailure(p, ex, err)
	if errors.Is(err, loader.ErrCanceled) {
		// nginx's "client closed request". An answer already under way is
		// cut off like any other failed one, for whatever may still read.
		f.logAccess(r, c, 499, ex.bytesSent(), start, name)
		if ex.committed {
			panic(http.ErrAbortHandler)
		}
		return
	}
	if ex.committed {
		// The status line is out: the only honest signal left is a broken
		// response (no terminating chunk, or an HTTP/2 stream reset), never a
		// truncated body that looks complete.
		f.logAccess(r, c, ex.status, ex.bytesSent(), start, name)
		panic(http.ErrAbortHandler)
	}
	if ex.traceback {
		f.tracebackPage(w, r, c, status, err, ex.guestLog, start, name)
		return
	}
	f.plainError(w, r, c, status, strconv.Itoa(status)+" "+http.StatusText(status), start, name)
}

func statusFor(err error, ex *exchange) int {
	var ge *loader.GuestError
	switch {
	case ex.tooLarge:
		return http.StatusRequestEntityTooLarge
	case ex.body != nil && ex.body.tooSlow():
		return http.StatusRequestTimeout
	case errors.Is(err, loader.ErrTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, loader.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.As(err, &ge):
		return http.StatusInternalServerError
	}
	return http.StatusInternalServerError
}

func (f *Front) logFailure(p Plugin, ex *exchange, err error) {
	switch {
	case errors.Is(err, loader.ErrCanceled):
		p.Log().Info("request cancelled: the client went away", "request_id", string(ex.requestID))
	case errors.Is(err, loader.ErrTimeout):
		p.Log().Warn("request timed out; the guest was stopped", "request_id", string(ex.requestID), "timeout", p.Config().Timeout)
	default:
		p.Log().Error("request failed", "request_id", string(ex.requestID), "error", err.Error(), "path", p.Path())
	}
}

func (f *Front) plainError(w http.ResponseWriter, r *http.Request, c *gateway.Client, status int, msg string, start time.Time, plugin string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	n, _ := w.Write([]byte(msg + "\n"))
	f.logAccess(r, c, status, int64(n), start, plugin)
}

// logAccess records a finished request in the metrics and the access log.
func (f *Front) logAccess(r *http.Request, c *gateway.Client, status int, bytes int64, start time.Time, plugin string) {
	d := time.Since(start)
	f.observe(plugin, status, d)
	if !f.access.IsInfo() {
		return
	}
	f.access.Info(r.Method+" "+r.RequestURI,
		"client", c.Logged(), "status", status, "bytes", bytes,
		"duration", d, "plugin", plugin, "worker", f.workerID)
}

func (f *Front) redirectClean(w http.ResponseWriter, r *http.Request, c *gateway.Client, start time.Time) {
	u := url.URL{Path: cleanPath(r.URL.Path), RawQuery: r.URL.RawQuery}
	http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
	f.logAccess(r, c, http.StatusMovedPermanently, 0, start, "")
}

// hasDotSegments reports whether p has "." or ".." segments or "//".
func hasDotSegments(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// cleanPath is path.Clean that keeps a trailing slash.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// ptr is a copy of c on the heap, for the paths that answer before a
// request has an exchange (whose own copy spares the usual path the
// allocation).
func ptr(c gateway.Client) *gateway.Client { return &c }

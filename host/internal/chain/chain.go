// Package chain runs a request through a plugin's middleware: a chain of
// links, outermost first, ending with the plugin itself. A link is either
// a middleware plugin, run in its own instance of its own plugin, or a
// built-in middleware (internal/builtins names them: gzip, xsrf), run by
// the host on the caller's goroutine.
//
// Each link receives a request (linkRequest) and sends its response to a
// sink: the outermost link's sink is the client's exchange; a link below a
// middleware plugin sends to an eventSink, which hands each piece to the
// waiting middleware guest through next_wait and blocks until that guest is
// done with it, so nothing of a response is ever held whole and a slow
// middleware slows its downstream instead of filling memory. A built-in
// wraps its sink (gzip) or answers in its place (xsrf).
//
// The downstream of a middleware plugin runs on a goroutine of its own,
// started by next_start, because the middleware's guest call occupies the
// request's goroutine while it waits. That goroutine ends before the
// middleware's call is over: when the middleware returns, the host stops
// the downstream (if it is still running) and waits for it.
package chain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/internal/builtins"
	"github.com/wasmhost/wasmhost/loader"
)

// Sink receives a link's response; the three methods follow the ABI's
// start_response, body_write and body_flush, results included.
type Sink interface {
	StartResponse(status int32, headers []byte) int32
	WriteBody(p []byte) int32
	Flush() int32
}

// BodySource is where a link reads its request body (body_read's results).
type BodySource interface {
	ReadBody(p []byte) int32
}

// Plugin is a plugin as a chain runs it: a middleware, or the handler at
// the chain's end.
type Plugin interface {
	Name() string
	Path() string        // the module's file, for the log
	CookieScope() string // the scope its signed cookies are signed in
	Log() hclog.Logger
	// Serving is the version to serve a request with and its pre-encoded
	// environ entries, or why there is none (down). Both come from one
	// look at the plugin: checked apart, a version that loads between the
	// two would pass the check with the unloaded one in hand.
	Serving() (p *loader.Plugin, fixedEnviron []byte, why string, down bool)
	// Serves reports whether p is still the version serving: when it is
	// not, a request its closed pool refused can go to its successor.
	Serves(p *loader.Plugin) bool
}

// Site is what the links' guests reach of the site beyond their request.
type Site interface {
	StaticURL(path string) string
	SignCookie(scope, name, value string) (string, int32)
	VerifyCookie(scope, name, signed string) (string, int32)
}

// link is one element of a chain. serve runs it, and through it the rest
// of the chain from index i+1, for one request.
type link interface {
	serve(ctx context.Context, call *chainCall, i int, req *linkRequest, out Sink) error
	name() string
	builtin() bool
}

// Chain is the links of one mounted plugin, with their counters.
type Chain struct {
	links []link // middleware, outermost first, then the plugin itself
	stats []linkStats
}

// New is the chain through the middleware names, outermost first, to end.
// Each name is a plugin (what plugins returns for it) or a built-in.
func New(names []string, plugins func(name string) Plugin, end Plugin) (*Chain, error) {
	ch := &Chain{}
	for _, name := range names {
		if p := plugins(name); p != nil {
			ch.links = append(ch.links, &pluginLink{p: p})
			continue
		}
		l := newBuiltin(name)
		if l == nil {
			return nil, fmt.Errorf("plugin %q: unknown middleware %q", end.Name(), name)
		}
		ch.links = append(ch.links, l)
	}
	ch.links = append(ch.links, &pluginLink{p: end})
	ch.stats = make([]linkStats, len(ch.links))
	return ch, nil
}

// builtinLinks makes the link of each built-in middleware that
// internal/builtins names; a test checks that every name has one.
var builtinLinks = map[string]func() link{
	builtins.Gzip: func() link { return gzipLink{} },
	builtins.XSRF: func() link { return xsrfLink{} },
}

// newBuiltin is the link of the built-in middleware name, or nil.
func newBuiltin(name string) link {
	if !builtins.Is(name) || builtinLinks[name] == nil {
		return nil
	}
	return builtinLinks[name]()
}

// linkStats count one link's requests; time includes the links below it
// (their work happens while the link waits for them).
type linkStats struct {
	requests, failures, nanos atomic.Int64
}

// Request is one request to serve through a chain.
type Request struct {
	R          *http.Request // method, query, headers, host, content length
	Client     *gateway.Client
	ScriptName string // the mount
	PathInfo   string
	RequestID  string
	MaxBody    int64 // max_body_size, for a body a middleware supplies
	Traceback  bool  // serve_traceback: error pages show internals
	Body       BodySource
	Site       Site
	// GuestLog is where what the links' guests log is kept for the error
	// page (Serve appends to it and returns it).
	GuestLog []byte
}

// Result is how a request through a chain ended, besides its error.
type Result struct {
	// GuestLog is Request.GuestLog with what the links' guests logged.
	GuestLog []byte
	// TooLarge: a body a middleware supplied passed max_body_size; the
	// answer must then not look complete.
	TooLarge bool
}

// chainCall is one request going through a chain.
type chainCall struct {
	chain      *Chain
	site       Site
	client     *gateway.Client
	scriptName string
	requestID  string
	maxBody    int64
	traceback  bool
	xsrf       []byte // the request's XSRF token, once the xsrf built-in has run
	tooLarge   atomic.Bool
	// guestLog is what the links' guests logged, for the error page.
	logMu    sync.Mutex
	guestLog []byte
}

// linkRequest is the request as one link sees it.
type linkRequest struct {
	r        *http.Request
	pathInfo string
	body     BodySource // nil when the request has no body
}

// lockedBody serialises reads of one body source: a middleware that did
// not replace its body lets its downstream read it, on another goroutine.
type lockedBody struct {
	mu  sync.Mutex
	src BodySource
}

func (b *lockedBody) ReadBody(p []byte) int32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.src.ReadBody(p)
}

// Serve runs a request through the chain, with out (the client's
// exchange) as the outermost sink. Every link's goroutine has ended when
// it returns.
func (ch *Chain) Serve(ctx context.Context, req Request, out Sink) (Result, error) {
	call := &chainCall{
		chain: ch, site: req.Site, client: req.Client, scriptName: req.ScriptName, requestID: req.RequestID,
		maxBody: req.MaxBody, traceback: req.Traceback, guestLog: req.GuestLog,
	}
	lr := &linkRequest{r: req.R, pathInfo: req.PathInfo}
	if req.Body != nil {
		lr.body = &lockedBody{src: req.Body}
	}
	err := ch.serveAt(ctx, call, 0, lr, out)
	return Result{GuestLog: call.guestLog, TooLarge: call.tooLarge.Load()}, err
}

// serveAt runs the chain from link i.
func (ch *Chain) serveAt(ctx context.Context, call *chainCall, i int, req *linkRequest, out Sink) error {
	st := &ch.stats[i]
	start := time.Now()
	err := ch.links[i].serve(ctx, call, i, req, out)
	st.requests.Add(1)
	st.nanos.Add(int64(time.Since(start)))
	if err != nil {
		st.failures.Add(1)
	}
	return err
}

// pluginLink is a plugin in a chain: a middleware, or the handler at its end.
type pluginLink struct {
	p Plugin
}

func (l *pluginLink) name() string  { return l.p.Name() }
func (l *pluginLink) builtin() bool { return false }

func (l *pluginLink) serve(ctx context.Context, call *chainCall, i int, req *linkRequest, out Sink) error {
	var flags uint32
	if req.body != nil {
		flags = abi.FlagHasBody
	}
	var err error
	for attempt := 0; ; attempt++ {
		lp, fixed, msg, down := l.p.Serving()
		if down {
			// Under debug, a middleware that does not load yet fails the
			// requests through it, saying why.
			return &loader.GuestError{Kind: "load", Message: msg}
		}
		lx := newLinkExchange(ctx, call, i, req, out, fixed, l.p)
		err = lp.Serve(ctx, lx, flags)
		if d := lx.down; d != nil {
			d.stopAndWait()
			if d.failed != nil && err != nil && !isStop(err) {
				// The middleware gave up because its downstream failed:
				// report the cause, as if there were no middleware.
				err = d.failed
			}
		}
		// ErrClosed: a swap closed the pool before the guest ran.
		if err != loader.ErrClosed || attempt == 3 || l.p.Serves(lp) {
			break
		}
	}
	if err != nil && i > 0 && !isStop(err) {
		l.p.Log().Error("request failed", "request_id", call.requestID, "error", err.Error(), "path", l.p.Path())
	}
	return err
}

// isStop reports whether err ended the whole request (deadline, client
// gone) rather than one link.
func isStop(err error) bool {
	return errors.Is(err, loader.ErrTimeout) || errors.Is(err, loader.ErrCanceled)
}

// LinkStats is one link's counters.
type LinkStats struct {
	Name     string
	Builtin  bool
	Requests int64
	Failures int64
	TimeMS   float64 // total, including the links below
	OwnMS    float64 // total, less the links below
}

// Stats are the counters of each link, outermost first.
func (ch *Chain) Stats() []LinkStats {
	links := make([]LinkStats, len(ch.links))
	for i, l := range ch.links {
		t := ch.stats[i].nanos.Load()
		own := t
		if i+1 < len(ch.links) {
			own -= ch.stats[i+1].nanos.Load()
		}
		if own < 0 {
			own = 0
		}
		links[i] = LinkStats{
			Name: l.name(), Builtin: l.builtin(),
			Requests: ch.stats[i].requests.Load(), Failures: ch.stats[i].failures.Load(),
			TimeMS: float64(t) / 1e6, OwnMS: float64(own) / 1e6,
		}
	}
	return links
}

package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/loader"
)

// Middleware chains. A plugin with a middleware list is served through a
// chain of links, outermost first, ending with the plugin itself. A link is
// either a middleware plugin, run in its own instance of its own plugin,
// or a built-in middleware, run by the host on the caller's goroutine.
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

// sink receives a link's response; the three methods follow the ABI's
// start_response, body_write and body_flush, results included.
type sink interface {
	StartResponse(status int32, headers []byte) int32
	WriteBody(p []byte) int32
	Flush() int32
}

// bodySource is where a link reads its request body (body_read's results).
type bodySource interface {
	ReadBody(p []byte) int32
}

// link is one element of a chain. serve runs it, and through it the rest
// of the chain from index i+1, for one request.
type link interface {
	serve(ctx context.Context, call *chainCall, i int, req *linkRequest, out sink) error
	name() string
	builtin() bool
}

// chain is the links of one mounted plugin, with their counters.
type chain struct {
	links []link // middleware, outermost first, then the plugin itself
	stats []linkStats
}

// linkStats count one link's requests; time includes the links below it
// (their work happens while the link waits for them).
type linkStats struct {
	requests, failures, nanos atomic.Int64
}

// chainCall is one request going through a chain.
type chainCall struct {
	srv        *Server
	chain      *chain
	client     *client
	scriptName string
	requestID  string
	maxBody    int64
	traceback  bool
	xsrf       []byte // the request's XSRF token, once the xsrf built-in has run
	// tooLarge: a body a middleware supplied passed max_body_size; the
	// answer must then not look complete (see Server.finish).
	tooLarge atomic.Bool
}

// linkRequest is the request as one link sees it.
type linkRequest struct {
	r        *http.Request // method, query, headers, host, content length
	pathInfo string
	body     bodySource // nil when the request has no body
}

// lockedBody serialises reads of one body source: a middleware that did
// not replace its body lets its downstream read it, on another goroutine.
type lockedBody struct {
	mu  sync.Mutex
	src bodySource
}

func (b *lockedBody) ReadBody(p []byte) int32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.src.ReadBody(p)
}

// serveChain runs a request through its chain, with ex (the client's
// exchange) as the outermost sink and body source.
func (s *Server) serveChain(ctx context.Context, ch *chain, ex *exchange, r *http.Request, c *client, scriptName, pathInfo string, flags uint32) error {
	st := s.state.Load()
	call := &chainCall{
		srv: s, chain: ch, client: c, scriptName: scriptName, requestID: string(ex.requestID),
		maxBody: st.site.Server.MaxBodySize, traceback: ex.traceback,
	}
	req := &linkRequest{r: r, pathInfo: pathInfo}
	if flags&abi.FlagHasBody != 0 {
		req.body = &lockedBody{src: ex}
	}
	err := ch.serveAt(ctx, call, 0, req, ex)
	if call.tooLarge.Load() {
		ex.tooLarge = true
	}
	return err
}

// serveAt runs the chain from link i.
func (ch *chain) serveAt(ctx context.Context, call *chainCall, i int, req *linkRequest, out sink) error {
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
	mp *mountedPlugin
}

func (l *pluginLink) name() string  { return l.mp.cfg.Name }
func (l *pluginLink) builtin() bool { return false }

func (l *pluginLink) serve(ctx context.Context, call *chainCall, i int, req *linkRequest, out sink) error {
	var flags uint32
	if req.body != nil {
		flags = abi.FlagHasBody
	}
	var err error
	for attempt := 0; ; attempt++ {
		lv, msg, down := l.mp.serving()
		if down {
			// Under debug, a middleware that does not load yet fails the
			// requests through it, saying why.
			return &loader.GuestError{Kind: "load", Message: msg}
		}
		lx := newLinkExchange(ctx, call, i, req, out, lv, l.mp)
		err = lv.plugin.Serve(ctx, lx, flags)
		if d := lx.down; d != nil {
			d.stopAndWait()
			if d.failed != nil && err != nil && !isStop(err) {
				// The middleware gave up because its downstream failed:
				// report the cause, as if there were no middleware.
				err = d.failed
			}
		}
		// ErrClosed: a swap closed the pool before the guest ran.
		if err != loader.ErrClosed || attempt == 3 || l.mp.current.Load() == lv {
			break
		}
	}
	if err != nil && i > 0 && !isStop(err) {
		l.mp.log.Error("request failed", "request_id", call.requestID, "error", err.Error(), "path", l.mp.cfg.Path)
	}
	return err
}

// isStop reports whether err ended the whole request (deadline, client
// gone) rather than one link.
func isStop(err error) bool {
	return errors.Is(err, loader.ErrTimeout) || errors.Is(err, loader.ErrCanceled)
}

// newChains builds the chain of every plugin with a middleware list, after
// checking that each plugin is used as what it is (handler or middleware).
func (s *Server) newChains(st *siteState) error {
	byName := map[string]*mountedPlugin{}
	for _, mp := range st.plugins {
		byName[mp.cfg.Name] = mp
	}
	diags := config.CheckKinds(st.site, func(name string) (bool, bool) {
		mp := byName[name]
		if mp == nil {
			return false, false
		}
		p := mp.current.Load().plugin
		if p == nil {
			return false, false // under debug, not loaded yet: its kind is unknown
		}
		return p.Kind == loader.Middleware, true
	})
	if diags.HasErrors() {
		return &ConfigError{Diags: diags}
	}
	for _, d := range diags { // warnings, such as a middleware that serves nothing
		s.log.Warn(strings.TrimRight(config.FormatDiagnostics(hcl.Diagnostics{d}), "\n"))
	}
	st.chains = map[*mountedPlugin]*chain{}
	// From the new site's blocks: a plugin kept from the previous site
	// keeps its old block, which a change of its list alone does not
	// replace (samePlugin).
	for _, pc := range st.site.Plugins {
		mp := byName[pc.Name]
		if len(pc.Chain) == 0 || mp == nil {
			continue
		}
		ch := &chain{}
		for _, name := range pc.Chain {
			switch {
			case byName[name] != nil:
				ch.links = append(ch.links, &pluginLink{mp: byName[name]})
			case name == "gzip":
				ch.links = append(ch.links, gzipLink{})
			case name == "xsrf":
				ch.links = append(ch.links, xsrfLink{})
			default:
				return fmt.Errorf("plugin %q: unknown middleware %q", pc.Name, name) // config checked it
			}
		}
		ch.links = append(ch.links, &pluginLink{mp: mp})
		ch.stats = make([]linkStats, len(ch.links))
		st.chains[mp] = ch
	}
	return nil
}

// ConfigError is a problem with site.hcl found only once the plugins are
// loaded, such as a handler named in a middleware list.
type ConfigError struct{ Diags hcl.Diagnostics }

func (e *ConfigError) Error() string {
	return strings.TrimRight(config.FormatDiagnostics(e.Diags), "\n")
}

// checkSwapKind refuses a new version of a plugin that is not of the kind
// of the version serving: the site's chains were checked against it.
func checkSwapKind(old, new *loader.Plugin) error {
	if old == nil || old.Kind == new.Kind {
		// old is nil under debug for a plugin that has not loaded since the
		// start: its uses were not checked, and are when the site reloads.
		return nil
	}
	return &loader.LoadError{Plugin: new.Name, Path: new.Path, Err: fmt.Errorf(
		"is a %s, but the version serving is a %s: a new version cannot change what a plugin is", new.Kind, old.Kind)}
}

// LinkStatus is one link of a chain in /status.
type LinkStatus struct {
	Name     string  `json:"name"`
	Builtin  bool    `json:"builtin"`
	Requests int64   `json:"requests"`
	Failures int64   `json:"failures"`
	TimeMS   float64 `json:"time_ms"` // total, including the links below
	OwnMS    float64 `json:"own_ms"`  // total, less the links below
}

// ChainStatus lists the links of each plugin served through a chain, by
// plugin name.
func (s *Server) ChainStatus() map[string][]LinkStatus {
	st := s.state.Load()
	out := map[string][]LinkStatus{}
	for mp, ch := range st.chains {
		links := make([]LinkStatus, len(ch.links))
		for i, l := range ch.links {
			t := ch.stats[i].nanos.Load()
			own := t
			if i+1 < len(ch.links) {
				own -= ch.stats[i+1].nanos.Load()
			}
			if own < 0 {
				own = 0
			}
			links[i] = LinkStatus{
				Name: l.name(), Builtin: l.builtin(),
				Requests: ch.stats[i].requests.Load(), Failures: ch.stats[i].failures.Load(),
				TimeMS: float64(t) / 1e6, OwnMS: float64(own) / 1e6,
			}
		}
		out[mp.cfg.Name] = links
	}
	return out
}

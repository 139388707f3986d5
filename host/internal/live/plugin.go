package live

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/loader"
)

// Source is the plugin as its events find it: the version serving now.
type Source interface {
	// Current is the version serving now and its pre-encoded environ
	// entries; nil for a plugin with none loaded.
	Current() (p *loader.Plugin, fixedEnviron []byte)
	// Serves reports whether p is still the version serving.
	Serves(p *loader.Plugin) bool
	Log() hclog.Logger
	// StaticURL is the versioned URL of a static file.
	StaticURL(path string) string
}

// A Plugin is a plugin's WebSocket endpoint in one worker, and its
// pubsub hub (nil without a grant).
type Plugin struct {
	ep  *realtime.Endpoint // nil: the plugin has no websocket block
	hub *realtime.Hub
	src atomic.Pointer[sourceBox]

	mu    sync.Mutex
	conns map[*realtime.Conn][]byte // the environ captured at open
}

type sourceBox struct{ Source }

// New is the realtime side of a plugin with src; hub is its pubsub block's
// hub (nil without a grant), set its websocket settings (nil: no upgrades
// are accepted, only pubsub calls and event streams).
func New(src Source, hub *realtime.Hub, set *realtime.Settings) *Plugin {
	p := &Plugin{hub: hub, conns: map[*realtime.Conn][]byte{}}
	p.SetSource(src)
	if set != nil {
		if hub == nil {
			// A plugin without a grant still holds connections: a hub of
			// its own that no one else publishes to.
			hub, _ = realtime.NewHub(nil, realtime.HubOptions{})
		}
		p.ep = realtime.NewEndpoint(hub, p, *set)
	}
	return p
}

// SetSource points the plugin's events at src from the next event on (a
// reload that replaced the plugin's block but kept its connections).
func (p *Plugin) SetSource(src Source) { p.src.Store(&sourceBox{src}) }

// Hub is the plugin's pubsub hub, nil without a grant.
func (p *Plugin) Hub() *realtime.Hub {
	if p == nil {
		return nil
	}
	return p.hub
}

// Endpoint is the plugin's WebSocket endpoint, nil without one.
func (p *Plugin) Endpoint() *realtime.Endpoint { return p.ep }

type environKey struct{}

// Accept answers an upgrade on the plugin's mount; environ is the upgrade
// request's environ without the version's entries, kept for every event
// of the connection.
func (p *Plugin) Accept(w http.ResponseWriter, r *http.Request, environ []byte) (*realtime.Conn, error) {
	if p.ep == nil {
		return nil, errors.New("live: the plugin accepts no WebSocket")
	}
	r = r.WithContext(context.WithValue(r.Context(), environKey{}, environ))
	return p.ep.Accept(w, r)
}

// Shutdown closes every connection with code (1001: going away).
func (p *Plugin) Shutdown(ctx context.Context, code int, reason string) error {
	if p.ep == nil {
		return nil
	}
	return p.ep.Shutdown(ctx, code, reason)
}

// Open runs the open event; a guest that answered (start_response)
// refuses the upgrade with its response.
func (p *Plugin) Open(ctx context.Context, c *realtime.Conn, r *http.Request) error {
	env, _ := r.Context().Value(environKey{}).([]byte)
	p.mu.Lock()
	p.conns[c] = env
	p.mu.Unlock()
	ex := p.newExchange(c, abi.EventOpen, nil)
	err := p.run(ctx, ex)
	if err == nil && ex.status != 0 {
		err = &realtime.Refusal{Status: int(ex.status), Header: ex.header, Body: ex.body}
	}
	if err != nil {
		p.forget(c)
	}
	return err
}

// Message runs a message event; an error closes the connection (1011).
func (p *Plugin) Message(ctx context.Context, c *realtime.Conn, m realtime.Message) error {
	typ := "text"
	if m.Binary {
		typ = "binary"
	}
	ex := p.newExchange(c, abi.EventMessage, m.Data)
	ex.extra = abi.AppendPair(ex.extra, abi.KeyMessageType, typ)
	return p.run(ctx, ex)
}

// Close runs the close event, the connection's last.
func (p *Plugin) Close(ctx context.Context, c *realtime.Conn, code int, reason string) {
	ex := p.newExchange(c, abi.EventClose, nil)
	ex.extra = abi.AppendPair(ex.extra, abi.KeyCloseCode, strconv.Itoa(code))
	ex.extra = abi.AppendPair(ex.extra, abi.KeyCloseReason, reason)
	if err := p.run(ctx, ex); err != nil {
		p.src.Load().Log().Warn("close event failed", "conn_id", c.ID(), "error", err)
	}
	p.forget(c)
}

func (p *Plugin) forget(c *realtime.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Plugin) newExchange(c *realtime.Conn, event string, data []byte) *eventExchange {
	p.mu.Lock()
	env := p.conns[c]
	p.mu.Unlock()
	ex := &eventExchange{p: p, conn: c, event: event, data: data, base: env}
	ex.extra = abi.AppendPair(ex.extra, abi.KeyEvent, event)
	ex.extra = abi.AppendPair(ex.extra, abi.KeyConnID, c.ID())
	for k, v := range c.Values() {
		ex.extra = abi.AppendPair(ex.extra, abi.KeyConnValuePrefix+k, v)
	}
	return ex
}

// run calls the guest with the event on the version serving now. A pool
// a swap closed while the event waited refused it before the guest ran,
// so the event goes to the version that replaced it.
func (p *Plugin) run(ctx context.Context, ex *eventExchange) error {
	src := p.src.Load()
	for attempt := 0; ; attempt++ {
		lp, fixed := src.Current()
		if lp == nil {
			return errors.New("live: the plugin has no version loaded")
		}
		ex.env = append(append(append(ex.env[:0], ex.base...), fixed...), ex.extra...)
		ex.src = src
		err := lp.Serve(ctx, ex, abi.FlagEvent)
		if err != loader.ErrClosed || attempt == 3 || src.Serves(lp) {
			if err != nil {
				return fmt.Errorf("%s event: %w", ex.event, err)
			}
			return nil
		}
	}
}

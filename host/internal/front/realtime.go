package front

import (
	"errors"
	"net/http"
	"time"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/host/internal/live"
	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/loader"
)

// RealtimePlugin is a Plugin with WebSocket connections or a pubsub
// grant; Realtime is nil for a plugin with neither.
type RealtimePlugin interface {
	Realtime() *live.Plugin
}

func realtimeOf(p Plugin) *live.Plugin {
	if rp, ok := p.(RealtimePlugin); ok {
		return rp.Realtime()
	}
	return nil
}

// The HTTP request's side of the realtime calls (loader.RealtimeExchange):
// no connection, the plugin's pubsub, and serve_events.

func (ex *exchange) Conn() loader.EventConn { return nil }

func (ex *exchange) Pubsub() loader.Pubsub { return ex.live.Pubsub() }

func (ex *exchange) ServeEvents(topics []string) int32 {
	if ex.started || ex.sse != nil {
		return abi.ErrState
	}
	ex.sse = topics
	return 0
}

// serveWebSocket hands an upgrade on the mount of a plugin with a
// websocket block to its endpoint, with the request's environ captured
// for the connection's events.
func (f *Front) serveWebSocket(w http.ResponseWriter, r *http.Request, c gateway.Client, lv *live.Plugin, name, scriptName, pathInfo string, start time.Time) {
	reqID := f.appendRequestID(nil)
	env := gateway.AppendEnviron(nil, r, &c, scriptName, pathInfo, reqID, nil)
	if _, err := lv.Accept(w, r, env); err != nil {
		// Accept has answered: 403, 503, or the guest's refusal.
		f.logAccess(r, &c, refusalStatus(err), 0, start, name)
		return
	}
	f.logAccess(r, &c, http.StatusSwitchingProtocols, 0, start, name)
}

// serveStream keeps the response of a guest that called serve_events
// open as an event stream; the guest's instance is back in its pool.
func (f *Front) serveStream(w http.ResponseWriter, r *http.Request, ex *exchange, name string, start time.Time) {
	hub := ex.live.Hub()
	// The plugin's timeout bounded the guest; the stream lasts as long
	// as the client stays.
	_ = ex.rc.SetWriteDeadline(time.Time{})
	if err := hub.ServeEvents(w, r, realtime.StreamOptions{}, ex.sse...); err != nil {
		f.plainError(w, r, ex.client, http.StatusServiceUnavailable, "503 "+err.Error(), start, name)
		return
	}
	f.logAccess(r, ex.client, http.StatusOK, 0, start, name)
}

// refusalStatus is the status Accept answered a refused upgrade with.
func refusalStatus(err error) int {
	var ref *realtime.Refusal
	switch {
	case errors.As(err, &ref):
		return ref.Status
	case errors.Is(err, realtime.ErrTooMany), errors.Is(err, realtime.ErrShuttingDown):
		return http.StatusServiceUnavailable
	case errors.Is(err, realtime.ErrNotUpgrade):
		return http.StatusBadRequest
	}
	return http.StatusForbidden
}

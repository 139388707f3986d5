package realtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/wasmhost/wasmhost/abi"
)

// Events is what a plugin does with its connections: the host implements
// it with one guest call per method. The calls of one connection come one
// at a time and in order (Open, each Message, Close); different
// connections' calls run in parallel. ctx ends at the event timeout; an
// implementation must return by then (a guest is interrupted), and if it
// does not the connection is closed with 1011 regardless.
type Events interface {
	// Open is called before the upgrade with the upgrade request; an
	// error refuses it with 403. It may Set values, Subscribe and Send
	// (the messages go out once the connection is up).
	Open(ctx context.Context, c *Conn, r *http.Request) error
	// Message is called for each message the client sends. An error
	// (a trap) closes the connection with 1011.
	Message(ctx context.Context, c *Conn, m Message) error
	// Close is called once when the connection has closed, with the
	// close code (1006 when there was no close frame) and reason; not
	// for an upgrade that Open refused.
	Close(ctx context.Context, c *Conn, code int, reason string)
}

// Message is one WebSocket message.
type Message struct {
	Data   []byte
	Binary bool
}

// Refusal is an Open error that refuses the upgrade with a response of
// its own rather than 403: the guest's answer to an open event.
type Refusal struct {
	Status int
	Header []byte // abi pairs
	Body   []byte
}

func (r *Refusal) Error() string { return fmt.Sprintf("refused with %d", r.Status) }

func (r *Refusal) write(w http.ResponseWriter) {
	h := w.Header()
	for b := r.Header; len(b) > 0; {
		k, v, rest, ok := abi.NextPair(b)
		if !ok {
			break
		}
		h.Add(string(k), string(v))
		b = rest
	}
	w.WriteHeader(r.Status)
	w.Write(r.Body)
}

// Errors of Accept, after it has answered the request.
var (
	ErrNotUpgrade   = errors.New("realtime: not a WebSocket upgrade")
	ErrOrigin       = errors.New("realtime: Origin not allowed")
	ErrTooMany      = errors.New("realtime: max_connections reached")
	ErrShuttingDown = errors.New("realtime: endpoint shutting down")
)

// An Endpoint accepts the WebSocket upgrades of one plugin in one worker.
type Endpoint struct {
	hub    *Hub
	events Events
	set    Settings
	opts   websocket.AcceptOptions
	stats  endpointStats

	mu       sync.Mutex
	conns    map[*Conn]struct{}
	shutdown bool
	done     sync.WaitGroup // connections not finished (Close event run)
}

// NewEndpoint returns an endpoint whose connections join topics of hub.
func NewEndpoint(hub *Hub, events Events, s Settings) *Endpoint {
	s = s.WithDefaults()
	e := &Endpoint{hub: hub, events: events, set: s, stats: newEndpointStats(), conns: map[*Conn]struct{}{}}
	// The Origin check is done before Open, so the library's is off.
	e.opts = websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled}
	if s.Compression {
		// Without context takeover a connection holds no compressor
		// between messages (the library pools them), so an idle
		// connection costs no more with compression than without.
		e.opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	return e
}

// Settings are the endpoint's settings, defaults filled in.
func (e *Endpoint) Settings() Settings { return e.set }

// Stats returns a snapshot of the endpoint's counters.
func (e *Endpoint) Stats() EndpointStats { return e.stats.snapshot() }

// Accept answers the upgrade request r: it refuses it (403 for a foreign
// Origin or an Open error, 503 past max_connections) or upgrades it and
// returns the open connection, whose events are delivered from then on
// by a goroutine of its own. The caller's handler may return at once.
func (e *Endpoint) Accept(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	if !IsUpgrade(r) {
		http.Error(w, "a WebSocket upgrade is expected here", http.StatusBadRequest)
		return nil, ErrNotUpgrade
	}
	if !e.set.originAllowed(r) {
		e.stats.refuse("origin")
		http.Error(w, "Origin not allowed", http.StatusForbidden)
		return nil, ErrOrigin
	}
	if err := e.reserve(); err != nil {
		e.stats.refuse("limit")
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return nil, err
	}
	c := newConn(e, e.hub.newConnID())
	e.hub.register(c)
	if err := c.runOpen(r); err != nil {
		c.discard()
		e.stats.refuse("open")
		var ref *Refusal
		if errors.As(err, &ref) {
			ref.write(w)
		} else {
			http.Error(w, "refused", http.StatusForbidden)
		}
		return nil, fmt.Errorf("realtime: open refused: %w", err)
	}
	ws, err := websocket.Accept(w, r, &e.opts)
	if err != nil {
		c.discard()
		return nil, err
	}
	e.stats.accepted.Add(1)
	c.start(ws)
	return c, nil
}

// reserve counts a connection against max_connections.
func (e *Endpoint) reserve() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutdown {
		return ErrShuttingDown
	}
	if e.stats.open.Load() >= int64(e.set.MaxConnections) {
		return ErrTooMany
	}
	e.stats.open.Add(1)
	e.done.Add(1)
	return nil
}

// add tracks an upgraded connection; false means Shutdown has begun
// since its upgrade was reserved, and it should close at once.
func (e *Endpoint) add(c *Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.conns[c] = struct{}{}
	return !e.shutdown
}

func (e *Endpoint) snapshot() []*Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	conns := make([]*Conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	return conns
}

func (e *Endpoint) release(c *Conn) {
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
	e.stats.open.Add(-1)
	e.done.Done()
}

// Shutdown refuses new upgrades and closes every connection with code
// (1001 when the worker is going away), letting queued messages out
// first; it returns when every Close event has run, or when ctx ends,
// after dropping the connections still open without a close handshake.
func (e *Endpoint) Shutdown(ctx context.Context, code int, reason string) error {
	e.mu.Lock()
	e.shutdown = true
	e.mu.Unlock()
	for _, c := range e.snapshot() {
		c.Close(code, reason)
	}
	done := make(chan struct{})
	go func() { e.done.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range e.snapshot() {
			c.abort(1006, reason)
		}
		<-done
		return ctx.Err()
	}
}

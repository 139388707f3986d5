package realtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

var (
	// ErrValues is returned by Set past MaxValues.
	ErrValues = errors.New("realtime: connection values past 4 KiB")
	// ErrSendBuffer is returned by a send that found the send buffer full
	// (the connection is being closed with 1008).
	ErrSendBuffer = errors.New("realtime: send buffer full")
	// ErrNotText is returned by a text send of data that is not UTF-8.
	ErrNotText = errors.New("realtime: text message is not valid UTF-8")
)

// A Conn is one WebSocket connection held by the host. Its methods are
// safe to call from any goroutine, during its events or not.
type Conn struct {
	id string
	ep *Endpoint

	// subMu guards topics and finished; it is taken before the hub's
	// lock, never while holding mu (the hub delivers under its lock and
	// delivery takes mu).
	subMu    sync.Mutex
	topics   []string
	finished bool

	mu         sync.Mutex
	ws         *websocket.Conn // nil until the upgrade
	values     map[string]string
	valuesSize int
	queue      []*message
	queued     int64 // bytes queued or being written
	writing    bool  // a writer goroutine is running
	code       int   // the close code, once closing
	reason     string
	closeSent  bool // ws.Close has been started
	pinger     *time.Timer
	readErr    error

	done chan struct{}
}

func newConn(e *Endpoint, id string) *Conn {
	return &Conn{id: id, ep: e, done: make(chan struct{})}
}

// ID is the connection's id, unique across the hubs of a backend.
func (c *Conn) ID() string { return c.id }

// Done is closed when the connection has closed and its Close event has
// run.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Set keeps value under key for the connection's life ("" deletes it).
// Keys and values together are bounded by MaxValues.
func (c *Conn) Set(key, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	size := c.valuesSize
	if old, ok := c.values[key]; ok {
		size -= len(key) + len(old)
	}
	if value == "" {
		delete(c.values, key)
		c.valuesSize = size
		return nil
	}
	size += len(key) + len(value)
	if size > MaxValues {
		return ErrValues
	}
	if c.values == nil {
		c.values = map[string]string{}
	}
	c.values[key] = value
	c.valuesSize = size
	return nil
}

// Get is the value Set under key, or "".
func (c *Conn) Get(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.values[key]
}

// Values is a copy of every value, what the host hands a guest event.
func (c *Conn) Values() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.values))
	for k, v := range c.values {
		out[k] = v
	}
	return out
}

// Subscribe adds the connection to topic's subscribers on its hub.
func (c *Conn) Subscribe(topic string) error {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if c.finished {
		return ErrClosed
	}
	if slices.Contains(c.topics, topic) {
		return nil
	}
	if len(c.topics) >= MaxTopicsPerConn {
		return ErrTooManyTopics
	}
	if err := c.ep.hub.subscribe(topic, c); err != nil {
		return err
	}
	c.topics = append(c.topics, topic)
	return nil
}

// Unsubscribe removes the connection from topic's subscribers.
func (c *Conn) Unsubscribe(topic string) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if i := slices.Index(c.topics, topic); i >= 0 {
		c.topics = slices.Delete(c.topics, i, i+1)
		c.ep.hub.unsubscribe(c, topic)
	}
}

// Topics are the topics the connection is subscribed to.
func (c *Conn) Topics() []string {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	return slices.Clone(c.topics)
}

// runOpen runs the Open event before the upgrade.
func (c *Conn) runOpen(r *http.Request) error {
	return c.event(func(ctx context.Context) error { return c.ep.events.Open(ctx, c, r) })
}

// discard undoes a connection whose upgrade did not happen.
func (c *Conn) discard() {
	c.leave()
	c.ep.release(c)
	close(c.done)
}

// leave takes the connection off its hub's topics and ids.
func (c *Conn) leave() {
	c.subMu.Lock()
	c.finished = true
	topics := c.topics
	c.topics = nil
	c.subMu.Unlock()
	c.ep.hub.unregister(c, topics)
}

// start runs the upgraded connection: messages queued during Open go
// out, pings start, and a goroutine reads and delivers events.
func (c *Conn) start(ws *websocket.Conn) {
	ws.SetReadLimit(c.ep.set.MaxMessageSize)
	if !c.ep.add(c) {
		c.Close(int(websocket.StatusGoingAway), "shutting down")
	}
	c.mu.Lock()
	c.ws = ws
	startWriter := len(c.queue) > 0 && !c.writing
	if startWriter {
		c.writing = true
	}
	closeNow := c.closeDueLocked()
	if iv := c.ep.set.PingInterval; iv > 0 && c.code == 0 {
		c.pinger = time.AfterFunc(iv, c.ping)
	}
	c.mu.Unlock()
	if startWriter {
		go c.writeLoop()
	}
	if closeNow {
		go c.sendClose()
	}
	go c.run()
}

// run reads messages and delivers each as an event before reading the
// next, so a connection's events are in order and one at a time.
func (c *Conn) run() {
	defer c.finish()
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		c.ep.stats.in.Add(1)
		if c.closing() {
			continue // closing: the client's last messages are dropped
		}
		m := Message{Data: data, Binary: typ == websocket.MessageBinary}
		if err := c.event(func(ctx context.Context) error { return c.ep.events.Message(ctx, c, m) }); err != nil {
			c.closeWith(websocket.StatusInternalError, "event failed", false)
		}
	}
}

// finish runs once the connection cannot be read any more.
func (c *Conn) finish() {
	code, reason, ours := c.finalCode()
	if !ours {
		c.ws.CloseNow() // a close this side started completes on its own
	}
	c.leave()
	c.ep.stats.closed(code)
	c.event(func(ctx context.Context) error {
		c.ep.events.Close(ctx, c, code, reason)
		return nil
	})
	c.ep.release(c)
	close(c.done)
}

// finalCode is the close code events and counters see: the one this side
// closed with, else the client's, else 1009 for a message past the read
// limit (the library has sent that close), else 1006.
func (c *Conn) finalCode() (code int, reason string, ours bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pinger != nil {
		c.pinger.Stop()
	}
	ours = c.code != 0
	if !ours {
		var ce websocket.CloseError
		switch {
		case errors.As(c.readErr, &ce):
			c.code, c.reason = int(ce.Code), ce.Reason
		case errors.Is(c.readErr, websocket.ErrMessageTooBig):
			c.code, c.reason = int(websocket.StatusMessageTooBig), "message too big"
		default:
			c.code = int(websocket.StatusAbnormalClosure)
		}
		c.closeSent = true
	}
	c.queue, c.queued = nil, 0
	return c.code, c.reason, ours
}

// event runs one event bounded by the event timeout. Past it the
// connection is closed with 1011 at once, whether or not f has returned.
func (c *Conn) event(f func(context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.ep.set.EventTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			c.closeWith(websocket.StatusInternalError, "event timed out", false)
		}
	})
	defer stop()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("realtime: event panicked: %v", p)
		}
	}()
	err = f(ctx)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return err
}

// ping runs on the ping timer. The pong is read by the reader goroutine,
// so an event running longer than ping_timeout delays it: event
// timeouts should be shorter than ping timeouts.
func (c *Conn) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), c.ep.set.PingTimeout)
	err := c.ws.Ping(ctx)
	cancel()
	if err != nil {
		c.abort(int(websocket.StatusAbnormalClosure), "ping timeout")
		return
	}
	c.mu.Lock()
	if c.code == 0 {
		c.pinger.Reset(c.ep.set.PingInterval)
	}
	c.mu.Unlock()
}

// validCode reports whether code may be sent in a close frame.
func validCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	}
	return code >= 3000 && code <= 4999
}

// Send queues a message for the client; it returns once queued.
func (c *Conn) Send(data []byte, binary bool) error {
	if !binary && !utf8.Valid(data) {
		return ErrNotText
	}
	return c.enqueue(&message{data: data, binary: binary})
}

func (c *Conn) deliver(m *message) { c.enqueue(m) }

// Close closes the connection with code (1000 when it may not be sent)
// and reason, after the messages already queued.
func (c *Conn) Close(code int, reason string) {
	if !validCode(code) {
		code = int(websocket.StatusNormalClosure)
	}
	if len(reason) > 123 {
		reason = reason[:123]
	}
	c.closeWith(websocket.StatusCode(code), reason, true)
}

// Package control is the channel between a prefork master and each of its
// worker processes: a Unix socketpair per worker, the worker's end
// inherited as fd 3 (and its listening sockets as fds 4 and up), carrying
// JSON messages one per line:
//
//	master → worker  hello    (first, once): id, generation, site.hcl's bytes, listener count
//	worker → master  ready    plugins loaded, serving
//	worker → master  fatal    boot failed: the error text and the exit status it causes
//	worker → master  stopped  after SIGTERM: its listeners are closed, it accepts no more
//	master → worker  status, metrics (with a seq)
//	worker → master  reply    (same seq): the worker's /status document, or its metrics text
//
// Stopping is a signal, not a message, so that it works even when a
// worker is too busy or too broken to read. End of file on the channel
// tells each side that the other is gone.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// EnvWorker marks a worker process; its value is the worker's id. The
// worker removes it from its environment as soon as it has read it, so
// that nothing it starts mistakes itself for a worker.
const EnvWorker = "WASMHOST_WORKER"

// The descriptors a worker inherits: its end of the channel, then the
// listening sockets in server.listen's order.
const (
	FD              = 3
	FirstListenerFD = FD + 1
)

// Message types.
const (
	MsgHello   = "hello"
	MsgReady   = "ready"
	MsgFatal   = "fatal"
	MsgStopped = "stopped"
	MsgStatus  = "status"
	MsgMetrics = "metrics"
	MsgReply   = "reply"
)

// Message is one message on the channel; Type says which fields are set.
type Message struct {
	Type  string `json:"type"`
	Seq   uint64 `json:"seq,omitempty"`
	Hello *Hello `json:"hello,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
	// Status is the worker's /status document as its admin handler
	// serves it (internal/status.Status).
	Status  json.RawMessage `json:"status,omitempty"`
	Metrics string          `json:"metrics,omitempty"`
}

// Hello tells a worker who it is and what to serve. The site travels as
// the bytes the master validated, so a worker never reads a site.hcl that
// changed since: it parses exactly what its master checked.
type Hello struct {
	ID         int    `json:"id"`
	Generation int    `json:"generation"`
	MasterPID  int    `json:"master_pid"`
	SiteFile   string `json:"site_file"`
	Site       []byte `json:"site"`
	Listeners  int    `json:"listeners"` // FirstListenerFD .. FirstListenerFD+Listeners-1
}

// writeTimeout bounds a write to a peer that stopped reading; the
// messages are small, so only a wedged peer makes it expire.
const writeTimeout = 5 * time.Second

// Conn is one end of a control channel. Send and Call are safe for
// concurrent use; Recv is for one reading goroutine.
type Conn struct {
	c   net.Conn
	dec *json.Decoder

	wmu sync.Mutex
	enc *json.Encoder

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]chan *Message
	closed  bool
}

// New makes a Conn of the socket f, which it closes.
func New(f *os.File) (*Conn, error) {
	c, err := net.FileConn(f)
	f.Close() // FileConn has its own descriptor
	if err != nil {
		return nil, fmt.Errorf("control channel: %w", err)
	}
	return &Conn{c: c, dec: json.NewDecoder(c), enc: json.NewEncoder(c), pending: map[uint64]chan *Message{}}, nil
}

// Send writes m.
func (c *Conn) Send(m *Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.enc.Encode(m)
}

// Recv reads the next message.
func (c *Conn) Recv() (*Message, error) {
	m := new(Message)
	if err := c.dec.Decode(m); err != nil {
		return nil, err
	}
	return m, nil
}

// SetReadDeadline bounds the wait of Recv.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// ErrClosed is a Call's error once the channel is closed.
var ErrClosed = errors.New("control channel closed")

// Call sends a request and waits until ctx ends for its reply, which the
// reading goroutine hands over with Deliver. A reply's Error is returned
// as an error.
func (c *Conn) Call(ctx context.Context, typ string) (*Message, error) {
	ch := make(chan *Message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.seq++
	seq := c.seq
	c.pending[seq] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, seq)
		c.mu.Unlock()
	}()
	if err := c.Send(&Message{Type: typ, Seq: seq}); err != nil {
		return nil, err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		if m.Error != "" {
			return nil, errors.New(m.Error)
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Deliver hands a reply to the Call waiting for it. A reply whose caller
// gave up is dropped.
func (c *Conn) Deliver(m *Message) {
	c.mu.Lock()
	ch := c.pending[m.Seq]
	delete(c.pending, m.Seq)
	c.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// Close ends every Call in progress and closes the connection.
func (c *Conn) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		for seq, ch := range c.pending {
			close(ch)
			delete(c.pending, seq)
		}
	}
	c.mu.Unlock()
	c.c.Close()
}

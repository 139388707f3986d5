package prefork

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/wasmhost/wasmhost/host"
)

// The control channel is a Unix socketpair per worker, inherited as fd 3.
// Messages are JSON objects, one per line:
//
//	master → worker  hello    (first, once): id, generation, site.hcl's bytes, listener count
//	worker → master  ready    plugins loaded, serving
//	worker → master  fatal    boot failed: the error text and the exit status it causes
//	worker → master  stopped  after SIGTERM: its listeners are closed, it accepts no more
//	master → worker  status, metrics (with a seq)
//	worker → master  reply    (same seq): host.Status, or the metrics text
//
// Stopping is a signal, not a message, so that it works even when a
// worker is too busy or too broken to read. End of file on the channel
// tells each side that the other is gone.
const (
	msgHello   = "hello"
	msgReady   = "ready"
	msgFatal   = "fatal"
	msgStopped = "stopped"
	msgStatus  = "status"
	msgMetrics = "metrics"
	msgReply   = "reply"
)

type message struct {
	Type    string       `json:"type"`
	Seq     uint64       `json:"seq,omitempty"`
	Hello   *hello       `json:"hello,omitempty"`
	Error   string       `json:"error,omitempty"`
	Code    int          `json:"code,omitempty"`
	Status  *host.Status `json:"status,omitempty"`
	Metrics string       `json:"metrics,omitempty"`
}

// hello tells a worker who it is and what to serve. The site travels as
// the bytes the master validated, so a worker never reads a site.hcl that
// changed since: it parses exactly what its master checked.
type hello struct {
	ID         int    `json:"id"`
	Generation int    `json:"generation"`
	MasterPID  int    `json:"master_pid"`
	SiteFile   string `json:"site_file"`
	Site       []byte `json:"site"`
	Listeners  int    `json:"listeners"` // fds 4 .. 4+Listeners-1
}

// ctlWriteTimeout bounds a write to a peer that stopped reading; the
// messages are small, so only a wedged peer makes it expire.
const ctlWriteTimeout = 5 * time.Second

// ctlConn is one end of a control channel. send and call are safe for
// concurrent use; recv is for one reading goroutine.
type ctlConn struct {
	c   net.Conn
	dec *json.Decoder

	wmu sync.Mutex
	enc *json.Encoder

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]chan *message
	closed  bool
}

func newCtlConn(f *os.File) (*ctlConn, error) {
	c, err := net.FileConn(f)
	f.Close() // FileConn has its own descriptor
	if err != nil {
		return nil, fmt.Errorf("control channel: %w", err)
	}
	return &ctlConn{c: c, dec: json.NewDecoder(c), enc: json.NewEncoder(c), pending: map[uint64]chan *message{}}, nil
}

func (c *ctlConn) send(m *message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(ctlWriteTimeout))
	return c.enc.Encode(m)
}

func (c *ctlConn) recv() (*message, error) {
	m := new(message)
	if err := c.dec.Decode(m); err != nil {
		return nil, err
	}
	return m, nil
}

var errCtlClosed = errors.New("control channel closed")

// call sends a request and waits for its reply until ctx ends.
func (c *ctlConn) call(ctx context.Context, typ string) (*message, error) {
	ch := make(chan *message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errCtlClosed
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
	if err := c.send(&message{Type: typ, Seq: seq}); err != nil {
		return nil, err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, errCtlClosed
		}
		if m.Error != "" {
			return nil, errors.New(m.Error)
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// deliver hands a reply to the call waiting for it. A reply whose caller
// gave up is dropped.
func (c *ctlConn) deliver(m *message) {
	c.mu.Lock()
	ch := c.pending[m.Seq]
	delete(c.pending, m.Seq)
	c.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// close ends every call in progress and closes the connection.
func (c *ctlConn) close() {
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

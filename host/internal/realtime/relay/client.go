package relay

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
)

// ErrNotConnected is returned while a worker is not connected to the
// master (it reconnects by itself).
var ErrNotConnected = errors.New("relay: not connected to the master")

// Client is a worker hub's realtime.Backend: it connects to the master's
// relay socket and reconnects when the connection drops.
type Client struct {
	path string
	hub  string
	recv func(realtime.Envelope)

	mu     sync.Mutex
	conn   net.Conn
	w      *bufio.Writer
	closed bool
	ready  chan struct{} // closed at the first connection
	once   sync.Once
	wg     sync.WaitGroup
}

// Dial returns a backend for the relay socket at path. Nothing is
// dialled until the hub starts it.
func Dial(path string) *Client {
	return &Client{path: path, ready: make(chan struct{})}
}

// Start connects (once, synchronously, so a hub that starts with the
// master up is joined at once) and keeps connecting in the background.
func (c *Client) Start(hubID string, recv func(realtime.Envelope)) error {
	c.hub, c.recv = hubID, recv
	conn, _ := c.dial()
	c.wg.Add(1)
	go c.loop(conn)
	return nil
}

// Ready is closed once the client has been connected.
func (c *Client) Ready() <-chan struct{} { return c.ready }

func (c *Client) dial() (net.Conn, error) {
	conn, err := net.DialTimeout("unix", c.path, 2*time.Second)
	if err != nil {
		return nil, err
	}
	hello, _ := realtime.Envelope{Kind: realtime.KindHello, Origin: c.hub}.MarshalBinary()
	if err := writeFrame(conn, hello); err != nil {
		conn.Close()
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, net.ErrClosed
	}
	c.conn, c.w = conn, bufio.NewWriter(conn)
	c.once.Do(func() { close(c.ready) })
	return conn, nil
}

// loop reads the master's frames, and redials after a drop.
func (c *Client) loop(conn net.Conn) {
	defer c.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		if conn != nil {
			backoff = 50 * time.Millisecond
			c.read(conn)
			c.mu.Lock()
			if c.conn == conn {
				c.conn, c.w = nil, nil
			}
			c.mu.Unlock()
		}
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
		conn, _ = c.dial()
	}
}

func (c *Client) read(conn net.Conn) {
	r := bufio.NewReader(conn)
	for {
		b, err := readFrame(r)
		if err != nil {
			conn.Close()
			return
		}
		var e realtime.Envelope
		if e.UnmarshalBinary(b) == nil {
			c.recv(e)
		}
	}
}

// Broadcast sends e to the master for every other worker.
func (c *Client) Broadcast(ctx context.Context, e realtime.Envelope) error {
	return c.send(ctx, e)
}

// Send sends e to the master for the worker holding hubID's connections.
func (c *Client) Send(ctx context.Context, hubID string, e realtime.Envelope) error {
	return c.send(ctx, e)
}

func (c *Client) send(ctx context.Context, e realtime.Envelope) error {
	b, _ := e.MarshalBinary()
	if len(b) > MaxFrame {
		return errFrame
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return ErrNotConnected
	}
	deadline := time.Now().Add(5 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.conn.SetWriteDeadline(deadline)
	err := writeFrame(c.w, b)
	if err == nil {
		err = c.w.Flush()
	}
	if err != nil {
		c.conn.Close() // the reader sees it and the loop redials
	}
	return err
}

// Close disconnects for good.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

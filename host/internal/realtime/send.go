package realtime

import (
	"context"
	"errors"

	"github.com/coder/websocket"
)

// enqueue queues m unless the connection is closing. A message that does
// not fit the send buffer behind those already queued closes the
// connection with 1008: the client is not reading. One message always
// fits an empty queue, so a large message reaches a client that keeps
// up; memory is bounded by the buffer plus one message, and a published
// message's data is shared by all its subscribers.
func (c *Conn) enqueue(m *message) error {
	n := int64(len(m.data))
	c.mu.Lock()
	if c.code != 0 {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.queued > 0 && c.queued+n > c.ep.set.SendBuffer {
		c.mu.Unlock()
		c.closeWith(websocket.StatusPolicyViolation, "send buffer full", false)
		return ErrSendBuffer
	}
	c.queue = append(c.queue, m)
	c.queued += n
	start := c.ws != nil && !c.writing
	if start {
		c.writing = true
	}
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
	return nil
}

// writeLoop writes the queue out and ends when it is empty, so an idle
// connection has no writer goroutine. It starts the close handshake
// when a close was waiting for the queue to drain.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.queue = nil // an idle connection keeps no queue array
			c.writing = false
			closeNow := c.closeDueLocked()
			c.mu.Unlock()
			if closeNow {
				c.sendClose()
			}
			return
		}
		m := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()

		typ := websocket.MessageText
		if m.binary {
			typ = websocket.MessageBinary
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.ep.set.WriteTimeout)
		err := c.ws.Write(ctx, typ, m.data)
		cancel()
		c.mu.Lock()
		c.queued = max(c.queued-int64(len(m.data)), 0)
		c.mu.Unlock()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				c.abort(int(websocket.StatusPolicyViolation), "write timed out")
			}
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			return // the connection is closed: the reader finishes it
		}
		c.ep.stats.out.Add(1)
	}
}

// closeWith starts closing with code: after the queue when flush, else
// at once, dropping what is queued. The first close wins.
func (c *Conn) closeWith(code websocket.StatusCode, reason string, flush bool) {
	c.mu.Lock()
	if c.code != 0 {
		c.mu.Unlock()
		return
	}
	c.code, c.reason = int(code), reason
	if !flush {
		c.queue = nil
	}
	closeNow := c.closeDueLocked()
	c.mu.Unlock()
	if closeNow {
		go c.sendClose()
	}
}

// closeDueLocked reports (once) whether the close handshake should
// start now: closing, upgraded, and no writer still draining the queue.
func (c *Conn) closeDueLocked() bool {
	if c.code == 0 || c.closeSent || c.ws == nil || c.writing {
		return false
	}
	c.closeSent = true
	return true
}

// sendClose runs the close handshake; the library bounds it (a peer that
// does not answer is dropped after a few seconds).
func (c *Conn) sendClose() {
	c.mu.Lock()
	code, reason := c.code, c.reason
	c.mu.Unlock()
	c.ws.Close(websocket.StatusCode(code), reason)
}

// abort drops the connection without a close handshake, recording code
// unless a close had started.
func (c *Conn) abort(code int, reason string) {
	c.mu.Lock()
	if c.code == 0 {
		c.code, c.reason = code, reason
	}
	c.closeSent = true
	ws := c.ws
	c.queue = nil
	c.mu.Unlock()
	if ws != nil {
		go ws.CloseNow()
	}
}

func (c *Conn) closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code != 0
}

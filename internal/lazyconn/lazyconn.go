// Package lazyconn wraps a server's TCP connections so that their
// deadlines are kept lazily, on the socket's side.
//
// net/http moves a keep-alive connection's deadlines several times a
// request: the read deadline to the idle timeout, to read_header_timeout,
// to read_timeout, the write deadline back to none after the response;
// and the host sets a write deadline of its own, the plugin's timeout, so
// that a client that does not read cannot hold a request past it. Each move
// is a timer the runtime re-sorts and, when it becomes the earliest, a
// wakeup of the network poller: about a twentieth of the server's CPU time
// on a hello under load.
//
// So a connection remembers the deadline it was asked for (want) apart
// from the one its socket has (armed), and moves the socket's only when
// the new deadline is earlier than the armed one. A later deadline, or
// none, waits: when the armed one fires, the read or write it cut short
// compares the clock with want, re-arms the socket with want and carries
// on, so it fails only once the deadline asked for has passed. A
// connection thus sets its socket's deadline about once per
// read_header_timeout instead of four or five times per request, and a
// deadline still ends a read or write exactly when it was asked to.
//
// ReadFrom (sendfile) and WriteTo hand the socket to the kernel or to a
// copy loop that cannot be resumed after a timeout without losing data, so
// they re-arm the exact deadline before they start.
package lazyconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Conn is an accepted TCP connection with lazily kept deadlines. It embeds
// *net.TCPConn so that everything net/http looks for (ReadFrom for
// sendfile, CloseWrite) is still there.
type Conn struct {
	*net.TCPConn
	rd, wd lazyDeadline
}

// New wraps c. A wrapper of its own can embed a Conn{TCPConn: c} instead.
func New(c *net.TCPConn) *Conn { return &Conn{TCPConn: c} }

// lazyDeadline is one direction's deadline: the one asked for and the one
// the socket has.
type lazyDeadline struct {
	mu    sync.Mutex
	want  time.Time // the deadline asked for; zero: none
	armed time.Time // the socket's; zero: none
}

// set records t and reports whether the socket must be armed with it now:
// only when t is earlier than what the socket has.
func (d *lazyDeadline) set(t time.Time) (arm bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.want = t
	if t.IsZero() || (!d.armed.IsZero() && !t.Before(d.armed)) {
		return false
	}
	d.armed = t
	return true
}

// expired is called after the socket's deadline cut an operation short.
// It reports whether the deadline asked for has passed (the error stands);
// if not, it has re-armed the socket with that deadline through arm, under
// the lock, so that a concurrent set cannot be overwritten by a stale one.
func (d *lazyDeadline) expired(arm func(time.Time) error) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.want.IsZero() && !time.Now().Before(d.want) {
		return true
	}
	d.armed = d.want
	return arm(d.want) != nil
}

// exact makes the socket's deadline the one asked for, for an operation
// that cannot be resumed.
func (d *lazyDeadline) exact(arm func(time.Time) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.armed.Equal(d.want) {
		return nil
	}
	d.armed = d.want
	return arm(d.want)
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.rd.set(t) {
		return c.TCPConn.SetReadDeadline(t)
	}
	return nil
}

func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.wd.set(t) {
		return c.TCPConn.SetWriteDeadline(t)
	}
	return nil
}

func (c *Conn) SetDeadline(t time.Time) error {
	err := c.SetReadDeadline(t)
	if werr := c.SetWriteDeadline(t); err == nil {
		err = werr
	}
	return err
}

// Read is the socket's Read, resumed when an earlier deadline than the one
// asked for cut it short.
func (c *Conn) Read(p []byte) (int, error) {
	for {
		n, err := c.TCPConn.Read(p)
		if n > 0 || err == nil || !isTimeout(err) || c.rd.expired(c.TCPConn.SetReadDeadline) {
			return n, err
		}
	}
}

// Write is the socket's Write, resumed where it stopped when an earlier
// deadline than the one asked for cut it short.
func (c *Conn) Write(p []byte) (int, error) {
	written := 0
	for {
		n, err := c.TCPConn.Write(p[written:])
		written += n
		if err == nil || !isTimeout(err) || c.wd.expired(c.TCPConn.SetWriteDeadline) {
			return written, err
		}
	}
}

// ReadFrom keeps net/http's sendfile path for static files.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.wd.exact(c.TCPConn.SetWriteDeadline); err != nil {
		return 0, err
	}
	return c.TCPConn.ReadFrom(r)
}

// WriteTo keeps the splice path of a copy from the connection.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	if err := c.rd.exact(c.TCPConn.SetReadDeadline); err != nil {
		return 0, err
	}
	return c.TCPConn.WriteTo(w)
}

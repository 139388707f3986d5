package serving

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/lazyconn"
)

// A process that retires while others keep accepting on the same socket
// must not drop a connection it has just accepted. http.Server.Shutdown
// does: a request read at the moment Shutdown starts is not served (the
// connection closes without an answer, net/http's conn.serve checks
// shuttingDown right after reading a request). A keep-alive client can
// retry that, but the first request of a new connection looks to its
// client like a server crash.
//
// So a retiring process first stops accepting (its queue is the socket's,
// shared: the other processes take the new connections), then waits until
// every connection it did accept has had its first request dispatched,
// and only then calls Shutdown. A connection counts as dispatched once
// the server has written to it (plain HTTP: the answer has begun), or,
// with TLS, once the client has spoken after the server's first write
// (the handshake is done; clients send the request with or right after
// their Finished). A client that connects and sends nothing cannot hold a
// shutdown for longer than SettleMax.

// SettleMax bounds the wait for accepted connections to be dispatched.
const SettleMax = time.Second

// Drainer wraps a process's listeners to stop accepting before Shutdown.
type Drainer struct {
	lns []*drainListener

	mu        sync.Mutex
	unsettled map[*trackedConn]struct{}
}

// NewDrainer wraps listeners, in the order of server.listen (which says
// which serve TLS); the server serves the returned ones.
func NewDrainer(lns []net.Listener, srv config.Server) (*Drainer, []net.Listener) {
	d := &Drainer{unsettled: map[*trackedConn]struct{}{}}
	out := make([]net.Listener, len(lns))
	for i, ln := range lns {
		dl := &drainListener{Listener: ln, d: d, tls: ListenerTLS(srv, i),
			stopped: make(chan struct{}), parked: make(chan struct{}), closed: make(chan struct{})}
		d.lns = append(d.lns, dl)
		out[i] = dl
	}
	return d, out
}

// StopAccepting closes the listeners, leaving the sockets to other
// processes, and waits (up to SettleMax) until the connections accepted
// so far have had their first request dispatched. It returns how many
// were still waiting when it gave up.
func (d *Drainer) StopAccepting() int {
	d.Stop()
	return d.Settle()
}

// Stop closes the listeners. When it returns their descriptors are
// closed (net's Close waits for that, even with an Accept in progress),
// so a worker, which holds no other descriptor of the sockets, can be
// given no connection: every one queued from now on goes to another
// process.
func (d *Drainer) Stop() {
	for _, l := range d.lns {
		l.stop()
	}
}

// Settle waits, after Stop, up to SettleMax until the connections
// accepted so far have had their first request dispatched, and returns
// how many were still waiting when it gave up.
func (d *Drainer) Settle() int {
	deadline := time.Now().Add(SettleMax)
	// A connection accepted just before the stop is registered by its
	// Accept call only when that call returns; the accept loop's next
	// call parks, so once every loop has parked, every connection this
	// process will ever accept is registered.
	for _, l := range d.lns {
		select {
		case <-l.parked:
		case <-time.After(time.Until(deadline)):
		}
	}
	for {
		d.mu.Lock()
		n := len(d.unsettled)
		d.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type drainListener struct {
	net.Listener
	d        *Drainer
	tls      bool
	stopOnce sync.Once
	stopped  chan struct{} // StopAccepting closed the listener
	parkOnce sync.Once
	parked   chan struct{} // and an Accept call has seen it since
	doneOnce sync.Once
	closed   chan struct{} // the server closed it (Shutdown)
}

func (l *drainListener) stop() {
	l.stopOnce.Do(func() {
		close(l.stopped)
		l.Listener.Close()
	})
}

// Accept after stop parks until Close: to http.Server, the listener is
// still open, so its Serve loop does not end in an error before Shutdown.
func (l *drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		select {
		case <-l.stopped:
			l.parkOnce.Do(func() { close(l.parked) })
			<-l.closed
			return nil, net.ErrClosed
		default:
			return nil, err
		}
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	t := &trackedConn{Conn: lazyconn.Conn{TCPConn: tc}, d: l.d, tls: l.tls}
	l.d.mu.Lock()
	l.d.unsettled[t] = struct{}{}
	l.d.mu.Unlock()
	return t, nil
}

func (l *drainListener) Close() error {
	l.doneOnce.Do(func() { close(l.closed) })
	l.stop()
	return nil
}

// trackedConn embeds a lazyconn.Conn, which keeps the connection's
// deadlines lazily, and through it *net.TCPConn, so that everything
// net/http looks for (ReadFrom for sendfile, CloseWrite) is still there.
// After it settles, Read and Write cost one atomic load more.
type trackedConn struct {
	lazyconn.Conn
	d       *Drainer
	tls     bool
	wrote   atomic.Bool
	settled atomic.Bool
}

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if !c.settled.Load() {
		if c.tls {
			c.wrote.Store(true)
		} else {
			c.settle()
		}
	}
	return n, err
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.settled.Load() && c.wrote.Load() {
		c.settle()
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.settle()
	return c.TCPConn.Close()
}

func (c *trackedConn) settle() {
	if c.settled.CompareAndSwap(false, true) {
		c.d.mu.Lock()
		delete(c.d.unsettled, c)
		c.d.mu.Unlock()
	}
}

// ListenerTLS says whether the i-th listener (in server.listen's order)
// serves TLS: the rule host.Server.Serve applies.
func ListenerTLS(srv config.Server, i int) bool {
	return srv.TLS != nil && (i >= len(srv.ListenTLS) || srv.ListenTLS[i])
}

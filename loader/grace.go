package loader

import (
	"context"
	"errors"
	"sync"
	"time"
)

// CancelGrace is how long a guest may keep running once its request is
// cancelled (the client went away, or the middleware above it returned):
// time to see ErrClosed from its next write, return, and run its defers.
// A guest still running after it is stopped, as at a deadline. The
// deadline itself has no grace: past it the guest is stopped at once.
const CancelGrace = time.Second

// graceState makes a guest call's context (callContext) end CancelGrace
// after its request's context is cancelled, and at once when that context
// reaches its deadline. The request's context is what host calls see
// (writes fail at the cancellation at once, which is how the guest learns
// of it); the call's context is what the engine watches to stop the guest,
// what its sleeps wait on and what its store and outbound calls run under.
//
// Like the request's context it arms nothing until an engine asks for
// Done: a call that is over before then costs no timer and no watch.
type graceState struct {
	on    bool // zero value: the call ends with its parent, no grace
	grace time.Duration

	mu       sync.Mutex
	done     chan struct{}
	err      error
	stop     func() bool // the watch on the parent
	timer    *time.Timer // the grace, once the parent was cancelled
	released bool        // the call is over: arm nothing more
}

// afterFuncer is the hook of context.AfterFunc that internal/reqctx
// implements: registering on it directly spares the context package's
// wrapper.
type afterFuncer interface {
	AfterFunc(func()) func() bool
}

func (c *Config) cancelGrace() time.Duration {
	if c.CancelGrace > 0 {
		return c.CancelGrace
	}
	return CancelGrace
}

// newCallContext is the context of one guest call serving a request.
func newCallContext(ctx context.Context, inst *instance, grace time.Duration) *callContext {
	c := &callContext{Context: ctx, inst: inst}
	c.grace.on, c.grace.grace = true, grace
	return c
}

// Done implements context.Context.
func (c *callContext) Done() <-chan struct{} {
	g := &c.grace
	if !g.on {
		return c.Context.Done()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done != nil {
		return g.done
	}
	g.done = make(chan struct{})
	if g.err == nil && c.Context.Done() != nil {
		if a, ok := c.Context.(afterFuncer); ok {
			g.stop = a.AfterFunc(c.parentEnded)
		} else {
			g.stop = context.AfterFunc(c.Context, c.parentEnded)
		}
	}
	if g.err != nil {
		close(g.done)
	}
	return g.done
}

// Err implements context.Context: DeadlineExceeded as soon as the parent
// has it, Canceled once the grace after a cancellation is over.
func (c *callContext) Err() error {
	g := &c.grace
	if !g.on {
		return c.Context.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil && g.done == nil && errors.Is(c.Context.Err(), context.DeadlineExceeded) {
		return context.DeadlineExceeded // nobody armed the watch; the clock says
	}
	return g.err
}

// parentEnded runs when the request's context ends.
func (c *callContext) parentEnded() {
	if errors.Is(c.Context.Err(), context.DeadlineExceeded) {
		c.end(context.DeadlineExceeded)
		return
	}
	d := c.grace.grace
	if dl, ok := c.Context.Deadline(); ok && time.Until(dl) < d {
		d = time.Until(dl) // the grace never outlasts the deadline
	}
	g := &c.grace
	g.mu.Lock()
	if g.err == nil && !g.released {
		g.timer = time.AfterFunc(d, func() { c.end(context.Canceled) })
	}
	g.mu.Unlock()
}

// end ends the call's context with err, once.
func (c *callContext) end(err error) {
	g := &c.grace
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return
	}
	g.err = err
	if g.done != nil {
		close(g.done)
	}
}

// release stops the watch and the grace timer once the call is over; the
// context then never ends by itself (an engine's watcher may still hold it).
func (c *callContext) release() {
	g := &c.grace
	g.mu.Lock()
	defer g.mu.Unlock()
	g.released = true
	if g.stop != nil {
		g.stop()
	}
	if g.timer != nil {
		g.timer.Stop()
	}
}

// canceled reports whether ctx ended by cancellation rather than its
// deadline: the client went away, or the middleware above returned.
func canceled(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

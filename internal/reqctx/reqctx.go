// Package reqctx is the context a request runs under: its parent's values
// and cancellation, and the plugin's deadline, for the price of one small
// allocation when nobody waits on it.
//
// context.WithTimeout costs every request a timer, a registration in its
// parent (for net/http's request context, a map made for the purpose) and
// the cancel closures; on a hello plugin that was about a twentieth of the
// server's CPU. Most requests never need any of it: they end well before
// their deadline, and nothing selects on their Done channel (the wazy
// engine only watches a context once a call has run for milliseconds, and
// the host's own waits, for an instance, a scheduler turn or the request
// body, are rare on a fast path). So a Context arms its timer and its
// parent watch the first time Done is called, and Err, which anything may
// call at any time, compares the clock with the deadline itself.
package reqctx

import (
	"context"
	"sync"
	"time"
)

// Context is a request's context with a deadline. Make it with
// WithDeadline; it ends at the deadline, when its parent ends, or at
// Cancel, whichever comes first.
type Context struct {
	parent   context.Context
	deadline time.Time

	mu         sync.Mutex
	done       chan struct{} // made by the first Done; closed when ended
	err        error         // set when ended
	timer      *time.Timer   // armed by the first Done
	stopParent func() bool   // the parent watch, armed by the first Done
	afterFuncs []*afterFunc  // see AfterFunc
}

type afterFunc struct{ f func() }

// closed is the Done channel of a Context that ended before anyone asked.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// WithDeadline returns a Context that ends at d or when parent does.
// Call Cancel when the request is over, as with context.WithDeadline.
func WithDeadline(parent context.Context, d time.Time) *Context {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	return &Context{parent: parent, deadline: d}
}

// Deadline implements context.Context.
func (c *Context) Deadline() (time.Time, bool) { return c.deadline, true }

// Value implements context.Context: the parent's values. (context.Cause
// still reports this Context's error: since Go 1.26 it falls back to Err
// when the cancelCtx it finds through Value, net/http's, has no cause.)
func (c *Context) Value(key any) any { return c.parent.Value(key) }

// Done implements context.Context. The first call arms the deadline's
// timer and the watch on the parent.
func (c *Context) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	if c.err == nil {
		if err := c.observe(); err != nil {
			c.err = err // nobody can be waiting yet: end here
		}
	}
	if c.err != nil {
		c.done = closed
		return c.done
	}
	c.done = make(chan struct{})
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
	if c.parent.Done() != nil {
		parent := c.parent
		c.stopParent = context.AfterFunc(parent, func() { c.end(parent.Err()) })
	}
	return c.done
}

// Err implements context.Context: DeadlineExceeded from the deadline on,
// whether or not the timer has fired (or been armed), and the parent's
// error from its end on.
func (c *Context) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	err := c.observe()
	if err != nil && c.done == nil && len(c.afterFuncs) == 0 {
		// Nobody waits on it: it can end here. Otherwise the timer or the
		// parent watch ends it, with this same error (see end).
		c.err = err
		c.release()
	}
	return err
}

// Cancel ends the Context (if it has not ended) and releases its timer and
// parent watch. It may be called more than once. Its error is Canceled,
// unless the deadline or the parent's end came first.
func (c *Context) Cancel() { c.end(context.Canceled) }

// AfterFunc arranges for f to run when the Context ends, before its Done
// channel closes; stop unregisters it. The context package uses it for
// the contexts derived from this one (context.WithCancel and the like),
// which then end with this Context's error before anyone woken by its Done
// can look at them, as with the package's own types. Without it they would
// learn of the end from a goroutine, later: a middleware stopped at the
// deadline would then cancel its downstream first, and a timeout would
// look like a client that went away.
func (c *Context) AfterFunc(f func()) (stop func() bool) {
	c.Done() // arms the timer and the parent watch
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	c.afterFuncs = append(c.afterFuncs, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.afterFuncs {
			if x == a {
				c.afterFuncs = append(c.afterFuncs[:i], c.afterFuncs[i+1:]...)
				return true
			}
		}
		return false
	}
}

// observe is the error the Context has from its parent or the clock, or
// nil; c.mu is held.
func (c *Context) observe() error {
	if err := c.parent.Err(); err != nil {
		return err
	}
	// time.Until reads only the monotonic clock when the deadline has a
	// monotonic reading (one made from time.Now has); time.Now would read
	// the wall clock as well, on every Err.
	if time.Until(c.deadline) <= 0 {
		return context.DeadlineExceeded
	}
	return nil
}

// end ends the Context with the first of: its parent's error, the
// deadline's, or err. It runs the AfterFunc callbacks, then closes Done.
func (c *Context) end(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if seen := c.observe(); seen != nil {
		err = seen // what Err has been saying
	}
	c.err = err
	fs, done := c.afterFuncs, c.done
	c.afterFuncs = nil
	c.release()
	c.mu.Unlock()
	// Outside the lock: a derived context's cancel may call back (stop).
	for _, a := range fs {
		a.f()
	}
	if done != nil && done != closed {
		close(done)
	}
}

// release stops the timer and the parent watch; c.mu is held.
func (c *Context) release() {
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stopParent != nil {
		c.stopParent()
	}
}

// String names the Context in panics and logs, as the context package's
// own types do.
func (c *Context) String() string {
	return "reqctx.WithDeadline(" + c.deadline.String() + ")"
}

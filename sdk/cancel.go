package sdk

import (
	"context"
	"sync"
	"sync/atomic"
)

// A guest learns that its request ended only through the host calls it
// makes: once the client has gone away, body_write, body_flush, body_read
// and next_wait return abi.ErrClosed. The first such result cancels the
// request's context, so r.Context().Done() is closed and r.Context().Err()
// is context.Canceled from then on, as in net/http when a client leaves.
// The host gives the guest a short grace (docs/ABI.md, "Failure
// semantics") to return and run its defers; a guest that makes no host
// call in that time, or keeps running after it, is stopped.

// requestCancel is the cancellation half of a request's context. Nothing
// is allocated until a handler asks for Done.
type requestCancel struct {
	canceled   atomic.Bool // read on every write, so without the lock
	mu         sync.Mutex
	done       chan struct{}
	afterFuncs []*func()
}

// Done implements context.Context.
func (c *environContext) Done() <-chan struct{} {
	rc := &c.cancel
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.done == nil {
		rc.done = make(chan struct{})
		if rc.canceled.Load() {
			close(rc.done)
		}
	}
	return rc.done
}

// Err implements context.Context.
func (c *environContext) Err() error {
	if c.cancel.canceled.Load() {
		return context.Canceled
	}
	return nil
}

// AfterFunc is the context package's hook for the contexts derived from
// this one (context.WithCancel(r.Context()) and the like): they end with
// it, before its Done closes, and without a goroutine of the context
// package's waiting on Done for each of them.
func (c *environContext) AfterFunc(f func()) (stop func() bool) {
	rc := &c.cancel
	rc.mu.Lock()
	if rc.canceled.Load() {
		rc.mu.Unlock()
		f()
		return func() bool { return false }
	}
	p := &f
	rc.afterFuncs = append(rc.afterFuncs, p)
	rc.mu.Unlock()
	return func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for i, x := range rc.afterFuncs {
			if x == p {
				rc.afterFuncs = append(rc.afterFuncs[:i], rc.afterFuncs[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancelRequest ends the request's context: the host said the request is
// over. It may be called more than once.
func (c *environContext) cancelRequest() {
	rc := &c.cancel
	rc.mu.Lock()
	if rc.canceled.Load() {
		rc.mu.Unlock()
		return
	}
	rc.canceled.Store(true)
	fs, done := rc.afterFuncs, rc.done
	rc.afterFuncs = nil
	rc.mu.Unlock()
	// The derived contexts first, as the context package orders it: a
	// handler woken by Done then finds them ended too.
	for _, f := range fs {
		(*f)()
	}
	if done != nil {
		close(done)
	}
}

// requestCanceled reports whether the host has said the request is over.
func (c *environContext) requestCanceled() bool { return c.Err() != nil }

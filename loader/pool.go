package loader

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// pool bounds and recycles a plugin's instances: at most capacity live at
// once, the idle ones on a stack, and requests that find none idle and no
// room for another queue in order of arrival.
//
// The stack is deliberate: the instance released last is the one taken
// next, so under load a few instances serve nearly every request while
// their linear memory and compiled code are still in the CPU's caches. A
// queue would rotate through all of them and touch every instance's memory
// in turn; with 16 instances that costs hello about a fifth of its
// throughput. sync.Pool is no fit either: it drops values without telling
// anyone, and an instance dropped without close stays referenced by its
// runtime for good.
type pool struct {
	capacity int
	create   func(ctx context.Context) (*instance, error)
	total    *atomic.Int64 // live instances of every plugin of the loader

	mu      sync.Mutex
	idle    []*instance // a stack: idle[len-1] was released last
	slots   int         // live instances, and ones being created
	waiting []*poolWaiter
	closed  bool
	onIdle  func() // called once, when closed and the last instance is gone

	live, busy, maxLive                        atomic.Int64
	created, reused, discarded, retired, waits atomic.Int64
}

// A poolWaiter is a request queued for an instance. It is granted either
// an instance (handed over by release), the right to create one (a slot
// freed by discard), or nothing (the pool closed).
type poolWaiter struct {
	grant chan poolGrant // capacity 1: granting never blocks
}

type poolGrant struct {
	inst *instance
	slot bool
}

func newPool(capacity int, create func(context.Context) (*instance, error), onEmpty func()) *pool {
	return &pool{
		capacity: capacity,
		idle:     make([]*instance, 0, capacity),
		create:   create,
		onIdle:   onEmpty,
	}
}

// acquire returns an instance for one request: the idle one released last
// if there is one, a new one if the cap allows, or else the next one
// released, waiting no longer than ctx allows.
func (p *pool) acquire(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return p.took(inst, true), nil
	}
	if p.slots < p.capacity {
		p.slots++
		p.mu.Unlock()
		return p.createInSlot(ctx)
	}
	w := &poolWaiter{grant: make(chan poolGrant, 1)}
	p.waiting = append(p.waiting, w)
	p.mu.Unlock()
	p.waits.Add(1)

	select {
	case g := <-w.grant:
		return p.granted(ctx, g)
	case <-ctx.Done():
	}
	p.mu.Lock()
	for i, x := range p.waiting {
		if x == w {
			p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
			p.mu.Unlock()
			return nil, ctxError(ctx.Err())
		}
	}
	p.mu.Unlock()
	// Granted as ctx ended: the grant is in the channel, and goes on to the
	// next waiter (or back to the pool) rather than being lost.
	g := <-w.grant
	switch {
	case g.inst != nil:
		p.put(g.inst)
	case g.slot:
		p.freeSlot()
	}
	return nil, ctxError(ctx.Err())
}

func (p *pool) granted(ctx context.Context, g poolGrant) (*instance, error) {
	switch {
	case g.inst != nil:
		return p.took(g.inst, true), nil
	case g.slot:
		return p.createInSlot(ctx)
	}
	return nil, ErrClosed
}

// createInSlot makes a new instance for a slot the caller holds.
func (p *pool) createInSlot(ctx context.Context) (*instance, error) {
	inst, err := p.create(ctx)
	if err != nil {
		p.freeSlot()
		return nil, err
	}
	p.created.Add(1)
	p.total.Add(1)
	n := p.live.Add(1)
	for m := p.maxLive.Load(); n > m && !p.maxLive.CompareAndSwap(m, n); m = p.maxLive.Load() {
	}
	return p.took(inst, false), nil
}

// prime adds the instance a plugin was checked with as its first idle one.
func (p *pool) prime(inst *instance) {
	p.mu.Lock()
	p.slots++
	p.idle = append(p.idle, inst)
	p.mu.Unlock()
	p.created.Add(1)
	p.total.Add(1)
	p.live.Add(1)
	p.maxLive.Store(1)
}

func (p *pool) took(inst *instance, reused bool) *instance {
	if reused {
		p.reused.Add(1)
	}
	p.busy.Add(1)
	return inst
}

// release returns a healthy instance after a request.
func (p *pool) release(inst *instance) {
	p.busy.Add(-1)
	p.put(inst)
}

// put hands an idle instance to the longest waiting request, or stacks it.
func (p *pool) put(inst *instance) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.drop(inst)
		return
	}
	if w := p.nextWaiter(); w != nil {
		p.mu.Unlock()
		w.grant <- poolGrant{inst: inst}
		return
	}
	p.idle = append(p.idle, inst)
	p.mu.Unlock()
}

// nextWaiter dequeues the longest waiting request; p.mu is held.
func (p *pool) nextWaiter() *poolWaiter {
	if len(p.waiting) == 0 {
		return nil
	}
	w := p.waiting[0]
	p.waiting[0] = nil
	p.waiting = p.waiting[1:]
	return w
}

// discard closes an instance after a failed request, or one being retired.
func (p *pool) discard(inst *instance) {
	p.busy.Add(-1)
	p.discarded.Add(1)
	p.drop(inst)
}

func (p *pool) drop(inst *instance) {
	inst.close()
	p.live.Add(-1)
	p.total.Add(-1)
	p.freeSlot()
}

// freeSlot gives up a slot: to a waiting request, which creates an
// instance in it, or back to the pool.
func (p *pool) freeSlot() {
	p.mu.Lock()
	if !p.closed {
		if w := p.nextWaiter(); w != nil {
			p.mu.Unlock()
			w.grant <- poolGrant{slot: true}
			return
		}
	}
	p.slots--
	f := p.takeOnIdle()
	p.mu.Unlock()
	if f != nil {
		f()
	}
}

// close stops new acquisitions, wakes waiting ones with ErrClosed, and
// closes idle instances now and busy ones when their requests finish;
// onIdle runs after the last one.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	idle, waiting := p.idle, p.waiting
	p.idle, p.waiting = nil, nil
	f := p.takeOnIdle()
	p.mu.Unlock()
	for _, w := range waiting {
		w.grant <- poolGrant{}
	}
	for _, inst := range idle {
		p.drop(inst)
	}
	if f != nil {
		f()
	}
}

// takeOnIdle returns onIdle, once, when the pool is closed and empty; p.mu
// is held.
func (p *pool) takeOnIdle() func() {
	if !p.closed || p.slots != 0 {
		return nil
	}
	f := p.onIdle
	p.onIdle = nil
	return f
}

// idleCount is the number of idle instances, for status.
func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ErrCanceled
}

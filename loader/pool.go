package loader

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// pool bounds and recycles a plugin's instances. slots holds one token per
// live instance, so its capacity is the cap; idle holds the instances not
// serving a request. A channel pool (rather than sync.Pool) is deliberate:
// sync.Pool drops values without telling anyone, and an instance dropped
// without Close stays referenced by its wazero runtime for good.
type pool struct {
	idle   chan *instance
	slots  chan struct{}
	create func(ctx context.Context) (*instance, error)
	done   chan struct{} // closed by close: no new acquisitions
	once   sync.Once
	mu     sync.Mutex
	onIdle func()        // called once, when closed and the last instance is gone
	total  *atomic.Int64 // live instances of every plugin of the loader

	live, busy, maxLive                        atomic.Int64
	created, reused, discarded, retired, waits atomic.Int64
}

func newPool(capacity int, create func(context.Context) (*instance, error), onEmpty func()) *pool {
	return &pool{
		idle:   make(chan *instance, capacity),
		slots:  make(chan struct{}, capacity),
		create: create,
		done:   make(chan struct{}),
		onIdle: onEmpty,
	}
}

// acquire returns an instance for one request: an idle one if there is one,
// a new one if the cap allows, or else the next one released, waiting no
// longer than ctx allows.
func (p *pool) acquire(ctx context.Context) (*instance, error) {
	select {
	case inst := <-p.idle:
		return p.took(inst, true), nil
	case <-p.done:
		return nil, ErrClosed
	default:
	}
	select {
	case inst := <-p.idle:
		return p.took(inst, true), nil
	case p.slots <- struct{}{}:
		return p.createInSlot(ctx)
	case <-p.done:
		return nil, ErrClosed
	default:
	}
	p.waits.Add(1)
	select {
	case inst := <-p.idle:
		return p.took(inst, true), nil
	case p.slots <- struct{}{}: // an instance was discarded meanwhile
		return p.createInSlot(ctx)
	case <-p.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctxError(ctx.Err())
	}
}

// createInSlot makes a new instance for a slot the caller has taken. A
// select picks at random among ready cases, so the slot may have been
// taken after close: then it is given back and the pool stays closed.
func (p *pool) createInSlot(ctx context.Context) (*instance, error) {
	select {
	case <-p.done:
		<-p.slots
		p.checkEmpty()
		return nil, ErrClosed
	default:
	}
	inst, err := p.create(ctx)
	if err != nil {
		<-p.slots
		p.checkEmpty()
		return nil, err
	}
	p.created.Add(1)
	p.total.Add(1)
	n := p.live.Add(1)
	for m := p.maxLive.Load(); n > m && !p.maxLive.CompareAndSwap(m, n); m = p.maxLive.Load() {
	}
	return p.took(inst, false), nil
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
	select {
	case <-p.done:
		p.drop(inst)
		return
	default:
	}
	p.idle <- inst // cannot block: at most cap live instances exist
	// close may have drained idle just before the send above.
	select {
	case <-p.done:
		p.drainIdle()
	default:
	}
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
	<-p.slots
	p.checkEmpty()
}

// close stops new acquisitions and closes idle instances now and busy ones
// when their requests finish; onIdle runs after the last one.
func (p *pool) close() {
	p.once.Do(func() { close(p.done) })
	p.drainIdle()
	p.checkEmpty()
}

func (p *pool) drainIdle() {
	for {
		select {
		case inst := <-p.idle:
			p.drop(inst)
		default:
			return
		}
	}
}

func (p *pool) checkEmpty() {
	select {
	case <-p.done:
	default:
		return
	}
	if len(p.slots) != 0 {
		return
	}
	p.mu.Lock()
	f := p.onIdle
	p.onIdle = nil
	p.mu.Unlock()
	if f != nil {
		f()
	}
}

func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ErrCanceled
}

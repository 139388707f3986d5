package loader

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeModule is a guest module that only counts its closing.
type fakeModule struct{ closed *atomic.Int64 }

func (m fakeModule) memory() guestMemory                 { return nil }
func (m fakeModule) function(string) guestFunction       { return nil }
func (m fakeModule) close(context.Context)               { m.closed.Add(1) }
func (m fakeModule) failure(error) (failureKind, uint32) { return 0, 0 }

func newTestPool(capacity int) (*pool, *atomic.Int64, chan struct{}) {
	closed := new(atomic.Int64)
	empty := make(chan struct{})
	p := newPool(capacity, func(context.Context) (*instance, error) {
		return &instance{mod: fakeModule{closed}}, nil
	}, func() { close(empty) })
	p.total = new(atomic.Int64)
	return p, closed, empty
}

// The instance released last is the one taken next, so a light load keeps
// reusing the instances whose memory is still in the CPU's caches.
func TestPoolReusesTheLastReleased(t *testing.T) {
	p, _, _ := newTestPool(4)
	ctx := context.Background()
	var insts []*instance
	for i := 0; i < 4; i++ {
		inst, err := p.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, inst)
	}
	for _, inst := range insts {
		p.release(inst)
	}
	for i := 0; i < 10; i++ {
		inst, err := p.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if inst != insts[3] {
			t.Fatalf("round %d: got an older instance; want the one released last", i)
		}
		p.release(inst)
	}
	if got := p.created.Load(); got != 4 {
		t.Fatalf("created %d instances, want 4", got)
	}
}

// At the cap, requests wait in order of arrival, and a discarded instance
// lets the next one create a replacement.
func TestPoolWaitersAndDiscard(t *testing.T) {
	p, closed, _ := newTestPool(1)
	ctx := context.Background()
	held, err := p.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *instance, 2)
	for i := 0; i < 2; i++ {
		go func() {
			inst, err := p.acquire(ctx)
			if err != nil {
				t.Error(err)
			}
			got <- inst
		}()
		waitFor(t, func() bool { return p.waits.Load() == int64(i+1) })
	}
	p.release(held)
	first := <-got
	if first != held {
		t.Fatal("the first waiter did not get the released instance")
	}
	p.discard(first)
	second := <-got
	if second == held || second == nil {
		t.Fatal("the second waiter did not get a new instance after the discard")
	}
	if closed.Load() != 1 {
		t.Fatalf("%d instances closed, want 1", closed.Load())
	}
	p.release(second)
}

// A waiter whose context ends gets ErrTimeout, and the instance released
// meanwhile is not lost.
func TestPoolWaiterTimeout(t *testing.T) {
	p, _, _ := newTestPool(1)
	held, _ := p.acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.acquire(ctx); err != ErrTimeout {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	p.release(held)
	again, err := p.acquire(context.Background())
	if err != nil || again != held {
		t.Fatalf("after a timed-out waiter: %v %v", again, err)
	}
	p.release(again)
}

// close wakes waiters with ErrClosed, closes every instance once its
// request is over, then calls onIdle; nothing leaks under concurrent use.
func TestPoolCloseUnderLoad(t *testing.T) {
	p, closed, empty := newTestPool(3)
	var wg sync.WaitGroup
	var served atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				inst, err := p.acquire(ctx)
				cancel()
				switch err {
				case nil:
					served.Add(1)
					if served.Load()%7 == 0 {
						p.discard(inst)
					} else {
						p.release(inst)
					}
				case ErrClosed:
					return
				case ErrTimeout:
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	waitFor(t, func() bool { return served.Load() > 200 })
	p.close()
	wg.Wait()
	select {
	case <-empty:
	case <-time.After(5 * time.Second):
		t.Fatal("onIdle was not called after close")
	}
	if c := p.created.Load(); closed.Load() != c || p.live.Load() != 0 {
		t.Fatalf("created %d, closed %d, live %d: want every instance closed", c, closed.Load(), p.live.Load())
	}
}

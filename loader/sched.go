package loader

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// scheduler admits guests to run, so that one busy plugin cannot starve
// the others of CPU.
//
// Why: a guest runs on the goroutine of its request, and Go's scheduler
// shares the CPUs among runnable goroutines round-robin, about 10 ms each.
// Forty requests looping in one plugin are forty runnable goroutines; a
// hello in another plugin then waits behind all of them (measured: p95
// 300 ms, max 450 ms on two cores). Bounding how many guests run at once
// bounds that queue.
//
// The policy: at most limit guests (GOMAXPROCS by default) run at once,
// except that a plugin with no guest running is always admitted, so a quiet
// plugin is served at once however busy another one is; it then shares the
// CPUs with at most limit others. A plugin's other requests wait, and when a
// guest stops running the waiting plugins are taken in turn (round-robin),
// not in arrival order. Time in host calls that wait (reading the request
// body, writing to the client, sleeping) does not count as running: the
// guest gives its place back for that long.
type scheduler struct {
	limit   int32
	running atomic.Int32
	waiting atomic.Int32

	mu      sync.Mutex
	ready   []*tenant // tenants with queued guests, in turn order
	next    int       // where the next round-robin pass starts in ready
	tenants map[string]*tenant
}

// tenant is one plugin's share of the scheduler, kept across its versions.
type tenant struct {
	s       *scheduler
	running atomic.Int32
	queue   []chan struct{} // guarded by s.mu
}

func newScheduler(limit int) *scheduler {
	if limit <= 0 {
		limit = runtime.GOMAXPROCS(0)
	}
	return &scheduler{limit: int32(limit), tenants: map[string]*tenant{}}
}

// tenant returns the share of the plugin with this name.
func (s *scheduler) tenant(name string) *tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[name]
	if t == nil {
		t = &tenant{s: s}
		s.tenants[name] = t
	}
	return t
}

func (t *tenant) admissible() bool {
	return t.s.running.Load() < t.s.limit || t.running.Load() == 0
}

func (t *tenant) admit() {
	t.s.running.Add(1)
	t.running.Add(1)
}

// enter waits until the guest may run, no longer than ctx allows.
func (t *tenant) enter(ctx context.Context) error {
	s := t.s
	for n := s.running.Load(); n < s.limit; n = s.running.Load() {
		if s.running.CompareAndSwap(n, n+1) {
			t.running.Add(1)
			return nil
		}
	}
	s.mu.Lock()
	// waiting goes up before the check, and leave reads it after it lowers
	// running: one of the two sees the other, so no wake-up is lost.
	s.waiting.Add(1)
	if t.admissible() {
		s.waiting.Add(-1)
		t.admit()
		s.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	t.queue = append(t.queue, ch)
	if len(t.queue) == 1 {
		s.ready = append(s.ready, t)
	}
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	if t.dequeue(ch) {
		s.waiting.Add(-1)
		s.mu.Unlock()
		return ctxError(ctx.Err())
	}
	s.mu.Unlock()
	// Admitted just as the context ended: give the place back.
	t.leave()
	return ctxError(ctx.Err())
}

// leave ends a guest's run (or its turn, before a host call that waits).
func (t *tenant) leave() {
	s := t.s
	t.running.Add(-1)
	s.running.Add(-1)
	if s.waiting.Load() > 0 {
		s.mu.Lock()
		s.wakeLocked()
		s.mu.Unlock()
	}
}

// resume is enter for a guest coming back from a host call that waited: it
// must go on, so when ctx ends first it runs anyway (the engine stops it
// at its next check).
func (t *tenant) resume(ctx context.Context) {
	if t.enter(ctx) != nil {
		t.admit()
	}
}

// wakeLocked admits queued guests, taking plugins in turn, while the policy
// allows.
func (s *scheduler) wakeLocked() {
	for admitted := true; admitted && len(s.ready) > 0; {
		admitted = false
		for i := 0; i < len(s.ready); i++ {
			k := (s.next + i) % len(s.ready)
			t := s.ready[k]
			if !t.admissible() {
				continue
			}
			ch := t.queue[0]
			t.queue = t.queue[1:]
			if len(t.queue) == 0 {
				t.queue = nil
				s.ready = append(s.ready[:k], s.ready[k+1:]...)
			}
			s.next = k + 1
			if len(s.ready) > 0 {
				s.next %= len(s.ready)
			} else {
				s.next = 0
			}
			s.waiting.Add(-1)
			t.admit()
			close(ch)
			admitted = true
			break
		}
	}
}

// dequeue removes a waiter that gave up; false if it was admitted already.
func (t *tenant) dequeue(ch chan struct{}) bool {
	for i, c := range t.queue {
		if c != ch {
			continue
		}
		t.queue = append(t.queue[:i], t.queue[i+1:]...)
		if len(t.queue) == 0 {
			t.queue = nil
			s := t.s
			for k, r := range s.ready {
				if r == t {
					s.ready = append(s.ready[:k], s.ready[k+1:]...)
					if s.next > k {
						s.next--
					}
					break
				}
			}
			if len(s.ready) == 0 {
				s.next = 0
			} else {
				s.next %= len(s.ready)
			}
		}
		return true
	}
	return false
}

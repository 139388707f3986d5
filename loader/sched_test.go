package loader

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestSchedulerAdmitsAQuietPluginAtOnce(t *testing.T) {
	s := newScheduler(1)
	busy, quiet := s.tenant("busy"), s.tenant("quiet")
	ctx := context.Background()
	if err := busy.enter(ctx); err != nil {
		t.Fatal(err)
	}
	// The limit is reached: busy's next guest waits...
	second := make(chan error, 1)
	go func() { second <- busy.enter(ctx) }()
	waitFor(t, func() bool { return s.waiting.Load() == 1 })
	// ...but a plugin with nothing running is admitted at once.
	if err := quiet.enter(ctx); err != nil {
		t.Fatal(err)
	}
	quiet.leave()
	select {
	case err := <-second:
		t.Fatalf("busy's second guest ran beside its first (err %v); want it to wait", err)
	default:
	}
	busy.leave()
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	busy.leave()
	if n := s.running.Load(); n != 0 {
		t.Fatalf("running = %d after every guest left, want 0", n)
	}
}

func TestSchedulerTakesPluginsInTurn(t *testing.T) {
	s := newScheduler(3)
	a, b, x := s.tenant("a"), s.tenant("b"), s.tenant("x")
	ctx := context.Background()
	// a, b and x run one guest each: the limit of 3 is reached.
	for _, tn := range []*tenant{a, b, x} {
		if err := tn.enter(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	queue := func(name string, tn *tenant, n int) {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := tn.enter(ctx); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				tn.leave()
			}()
			waitFor(t, func() bool { return queued(tn) == i+1 })
		}
	}
	queue("a", a, 3)
	queue("b", b, 1)
	// One place frees: a and b are served in turn, not a's queue first.
	x.leave()
	wg.Wait()
	if len(order) != 4 || order[1] != "b" {
		t.Fatalf("admission order %v, want b second: plugins are taken in turn", order)
	}
	a.leave()
	b.leave()
	if n := s.running.Load(); n != 0 {
		t.Fatalf("running = %d, want 0", n)
	}
}

func TestSchedulerWaitEndsWithTheContext(t *testing.T) {
	s := newScheduler(1)
	tn := s.tenant("p")
	if err := tn.enter(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tn.enter(ctx); err != ErrTimeout {
		t.Fatalf("enter past its deadline: %v, want ErrTimeout", err)
	}
	tn.leave()
	if s.running.Load() != 0 || s.waiting.Load() != 0 || queued(tn) != 0 {
		t.Fatalf("state after a timed-out wait: running %d waiting %d queued %d", s.running.Load(), s.waiting.Load(), queued(tn))
	}
}

func TestSchedulerUnderContention(t *testing.T) {
	s := newScheduler(2)
	var wg sync.WaitGroup
	var over sync.Once
	for p := 0; p < 4; p++ {
		tn := s.tenant(string(rune('a' + p)))
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					if err := tn.enter(context.Background()); err != nil {
						t.Error(err)
						return
					}
					// At most the limit plus one per plugin run at once.
					if n := s.running.Load(); n > 2+4 {
						over.Do(func() { t.Errorf("%d guests running, bound is 6", n) })
					}
					tn.leave()
				}
			}()
		}
	}
	wg.Wait()
	if s.running.Load() != 0 || s.waiting.Load() != 0 {
		t.Fatalf("running %d waiting %d after all left", s.running.Load(), s.waiting.Load())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func queued(tn *tenant) int {
	tn.s.mu.Lock()
	defer tn.s.mu.Unlock()
	return len(tn.queue)
}

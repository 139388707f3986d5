package reqctx

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type key struct{}

func TestDeadlineWithoutDone(t *testing.T) {
	c := WithDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	defer c.Cancel()
	if err := c.Err(); err != nil {
		t.Fatalf("Err before the deadline = %v", err)
	}
	time.Sleep(30 * time.Millisecond)
	if err := c.Err(); err != context.DeadlineExceeded {
		t.Fatalf("Err after the deadline = %v, want DeadlineExceeded", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done asked after the deadline is not closed")
	}
}

func TestDeadlineWakesDone(t *testing.T) {
	c := WithDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	defer c.Cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed at the deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestParentCancelWakesDone(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	c := WithDeadline(parent, time.Now().Add(time.Hour))
	defer c.Cancel()
	if c.Value(key{}) != "v" {
		t.Fatal("the parent's value is not seen")
	}
	done := c.Done()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed when the parent was canceled")
	}
	if c.Err() != context.Canceled {
		t.Fatalf("Err = %v, want Canceled", c.Err())
	}
}

func TestParentCanceledBeforeDone(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	c := WithDeadline(parent, time.Now().Add(time.Hour))
	cancel()
	if c.Err() != context.Canceled {
		t.Fatalf("Err = %v, want Canceled", c.Err())
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
}

func TestCancel(t *testing.T) {
	c := WithDeadline(context.Background(), time.Now().Add(time.Hour))
	done := c.Done()
	c.Cancel()
	c.Cancel()
	select {
	case <-done:
	default:
		t.Fatal("Done not closed by Cancel")
	}
	if c.Err() != context.Canceled {
		t.Fatalf("Err = %v", c.Err())
	}
	// The deadline after a cancel changes nothing.
	if c.Err() != context.Canceled {
		t.Fatal("Err changed after Cancel")
	}
}

func TestEarlierParentDeadlineWins(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pd, _ := parent.Deadline()
	c := WithDeadline(parent, time.Now().Add(time.Hour))
	if d, ok := c.Deadline(); !ok || !d.Equal(pd) {
		t.Fatalf("Deadline = %v %v, want the parent's %v", d, ok, pd)
	}
}

func TestDerivedContextsFollow(t *testing.T) {
	c := WithDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	defer c.Cancel()
	child, cancel := context.WithCancel(c)
	defer cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a derived context did not end at the deadline")
	}
	if child.Err() != context.DeadlineExceeded {
		t.Fatalf("child Err = %v", child.Err())
	}
}

func TestConcurrentUse(t *testing.T) {
	for i := 0; i < 100; i++ {
		c := WithDeadline(context.Background(), time.Now().Add(time.Millisecond))
		var wg sync.WaitGroup
		for j := 0; j < 4; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-c.Done()
				if c.Err() == nil {
					t.Error("Err nil after Done")
				}
			}()
		}
		wg.Wait()
		c.Cancel()
	}
}

func BenchmarkWithDeadline(b *testing.B) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c := WithDeadline(parent, time.Now().Add(time.Minute))
		_ = c.Err()
		c.Cancel()
	}
}

func BenchmarkContextWithTimeout(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		// net/http gives each request a fresh cancelCtx parent.
		parent, pcancel := context.WithCancel(context.Background())
		c, cancel := context.WithTimeout(parent, time.Minute)
		_ = c.Err()
		cancel()
		pcancel()
	}
}

// A context derived from a Context has its error by the time the
// Context's Done is closed, as with the context package's own types. A
// round whose deadline passed while the child was being derived does not
// count: then the context package learns of the end from a goroutine (it
// holds the child's lock while it registers, so it cannot be told in
// line), just as it would for a parent of its own that ended meanwhile.
func TestDerivedEndsBeforeDone(t *testing.T) {
	tested := 0
	for i := 0; i < 2000 && tested < 200; i++ {
		c := WithDeadline(context.Background(), time.Now().Add(2*time.Millisecond))
		child, cancel := context.WithCancel(c)
		if c.Err() != nil { // ended while WithCancel ran: not this case
			cancel()
			c.Cancel()
			continue
		}
		tested++
		<-c.Done()
		cancel() // what a middleware's cleanup does once it sees the end
		if child.Err() != context.DeadlineExceeded {
			t.Fatalf("round %d: the derived context's Err = %v, want DeadlineExceeded", i, child.Err())
		}
		c.Cancel()
	}
	if tested < 20 {
		t.Fatalf("only %d rounds derived their context before a 2ms deadline", tested)
	}
}

// Cancel after the deadline keeps the error Err has been reporting.
func TestCancelAfterDeadlineKeepsDeadlineExceeded(t *testing.T) {
	c := WithDeadline(context.Background(), time.Now().Add(time.Millisecond))
	c.Done() // armed, so Err does not end it
	time.Sleep(5 * time.Millisecond)
	c.Cancel()
	if c.Err() != context.DeadlineExceeded {
		t.Fatalf("Err = %v, want DeadlineExceeded", c.Err())
	}
}

func TestAfterFuncStop(t *testing.T) {
	c := WithDeadline(context.Background(), time.Now().Add(time.Hour))
	ran := make(chan struct{}, 1)
	stop := context.AfterFunc(c, func() { ran <- struct{}{} })
	if !stop() {
		t.Fatal("stop before the end reported false")
	}
	c.Cancel()
	select {
	case <-ran:
		t.Fatal("a stopped AfterFunc ran")
	case <-time.After(20 * time.Millisecond):
	}
}

// context.Cause reports this Context's own error, not that of the cancelCtx
// it derives from (net/http's request context, still live).
func TestCauseIsOwnError(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := WithDeadline(parent, time.Now().Add(time.Millisecond))
	defer c.Cancel()
	<-c.Done()
	if got := context.Cause(c); got != context.DeadlineExceeded {
		t.Fatalf("Cause = %v, want DeadlineExceeded", got)
	}
	child, ccancel := context.WithCancel(c)
	defer ccancel()
	if got := context.Cause(child); got != context.DeadlineExceeded {
		t.Fatalf("a derived context's Cause = %v, want DeadlineExceeded", got)
	}
	if c.Value(key{}) != nil {
		t.Fatal("an unknown key has a value")
	}
}

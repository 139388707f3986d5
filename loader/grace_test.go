package loader

import (
	"context"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/reqctx"
)

// A call's context ends a grace after its request is cancelled, at once
// at the request's deadline, and never once the call is over.
func TestCallContextGrace(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		req := reqctx.WithDeadline(context.Background(), time.Now().Add(time.Hour))
		cc := newCallContext(req, nil, 30*time.Millisecond)
		done := cc.Done()
		start := time.Now()
		req.Cancel()
		if err := cc.Err(); err != nil {
			t.Fatalf("the call's context ended with its request: %v; want a grace first", err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the call's context did not end after its grace")
		}
		if cc.Err() != context.Canceled || time.Since(start) < 30*time.Millisecond {
			t.Errorf("ended after %v with %v; want Canceled, after the grace", time.Since(start), cc.Err())
		}
	})
	t.Run("deadline", func(t *testing.T) {
		req := reqctx.WithDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
		defer req.Cancel()
		cc := newCallContext(req, nil, time.Hour)
		select {
		case <-cc.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the deadline did not end the call's context: it has no grace")
		}
		if cc.Err() != context.DeadlineExceeded {
			t.Errorf("Err %v, want DeadlineExceeded", cc.Err())
		}
	})
	t.Run("released", func(t *testing.T) {
		req := reqctx.WithDeadline(context.Background(), time.Now().Add(time.Hour))
		cc := newCallContext(req, nil, time.Millisecond)
		done := cc.Done()
		cc.release()
		req.Cancel()
		time.Sleep(30 * time.Millisecond)
		select {
		case <-done:
			t.Error("a call's context ended after the call was over")
		default:
		}
	})
	t.Run("no grace for initialization", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cc := &callContext{Context: ctx}
		cancel()
		if cc.Err() != context.Canceled {
			t.Errorf("a plain callContext: %v, want its parent's Canceled at once", cc.Err())
		}
	})
}

package chain

import (
	"context"
	"math/rand"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/abi"
)

// TestChainHandOffUnderCancellation drives the relay between a downstream
// and its middleware with the request cancelled at every step: the
// downstream scribbles over each buffer it lent as soon as its send
// returns (its guest moving on, or its memory being reused), so a
// middleware copy that touches lent memory afterwards is a data race the
// race detector reports; and each answer must be the one to its own
// event (a stale answer would claim bytes that were never copied).
func TestChainHandOffUnderCancellation(t *testing.T) {
	rounds := 100
	if raceDetector {
		rounds = 300 // what the test is for: make test's race pass
	}
	for round := 0; round < rounds; round++ {
		handOffRound(t, rand.New(rand.NewSource(int64(round))), round%40)
	}
}

func handOffRound(t *testing.T, rng *rand.Rand, cancelAt int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := newDownstream(ctx)
	lx := &linkExchange{ctx: ctx, down: d}
	var bad atomic.Value
	go func() { // the downstream's guest, making host calls
		defer close(d.done)
		for i := 0; ; i++ {
			buf := make([]byte, 64)
			kind := int32(abi.EventBody)
			if i%3 == 2 {
				kind = abi.EventBodyWanted
			} else {
				for j := range buf {
					buf[j] = byte(i)
				}
			}
			rc := d.send(kind, buf)
			if kind == abi.EventBodyWanted && rc > 0 {
				for _, b := range buf[:rc] {
					if b != 'm' {
						bad.Store("a body answer counted bytes that were not copied into the buffer it asked with")
					}
				}
			}
			for j := range buf {
				buf[j] = 0xee // the memory is no longer lent
			}
			if rc < 0 {
				break
			}
		}
		select {
		case d.events <- chainEvent{kind: eventFinal}:
		case <-d.stop:
		}
	}()
	own := make([]byte, 16)
	for i := range own {
		own[i] = 'm'
	}
	p := make([]byte, 16)
	for step := 0; step < 60; step++ {
		ev, _ := lx.NextWait()
		if step == cancelAt {
			// The request ends while the middleware holds an event: the
			// downstream's call returns, and its guest moves on.
			cancel()
			time.Sleep(time.Duration(rng.Intn(50)) * time.Microsecond)
		}
		switch ev {
		case abi.EventBody:
			for lx.NextRead(p[:1+rng.Intn(len(p))]) > 0 {
				runtimeYield(rng)
			}
		case abi.EventBodyWanted:
			lx.NextBody(own[:1+rng.Intn(len(own))], 0)
		}
		if ev < 0 && step > cancelAt+3 {
			break
		}
		// After the end, a guest may still make calls before it returns.
		lx.NextRead(p)
		lx.NextBody(own[:4], 0)
	}
	d.stopAndWait()
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
}

func runtimeYield(rng *rand.Rand) {
	if rng.Intn(3) == 0 {
		time.Sleep(time.Microsecond)
	}
}

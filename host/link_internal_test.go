package host

import (
	"context"
	"math/rand"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/hostconfig"
	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader"
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

// TestChainLinkServesOnlyALoadedVersion: a plugin that loads while a
// request goes through its chain link. The link once took the version and
// asked whether the plugin could serve in two loads of current, so a load
// in between passed the check with the unloaded version in hand: a nil
// dereference, on a downstream's goroutine net/http does not recover.
func TestChainLinkServesOnlyALoadedVersion(t *testing.T) {
	log := hclog.NewNullLogger()
	l, err := loader.New(loader.Options{CacheDir: testutil.CacheDir(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	pc := config.Plugin{Name: "hello", Path: testutil.Plugin(t, "plugins/examples/hello"), Instances: 2, Timeout: 10 * time.Second}
	lp, err := l.Load(context.Background(), hostconfig.LoaderConfig(pc))
	if err != nil {
		t.Fatal(err)
	}
	defer lp.Close()
	s := &Server{}
	mp := &mountedPlugin{cfg: pc, log: log}
	loaded, unloaded := s.wrap(mp, lp), &loadedVersion{}
	mp.current.Store(unloaded)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the plugin loading, and (for the test) unloading again
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := 0; i < 1024; i++ {
				mp.current.Store(loaded)
				mp.current.Store(unloaded)
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()
	pl := &pluginLink{mp: mp}
	call := &chainCall{srv: s, chain: &chain{links: []link{pl}, stats: make([]linkStats, 1)}, client: &gateway.Client{}, requestID: "r"}
	r := httptest.NewRequest("GET", "/", nil)
	served, refused := 0, 0
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("a request through a link whose plugin was loading panicked: %v", v)
				}
			}()
			if err := pl.serve(context.Background(), call, 0, &linkRequest{r: r, pathInfo: "/"}, &discardSink{}); err != nil {
				refused++
			} else {
				served++
			}
		}()
	}
	t.Logf("%d served, %d refused while the plugin's version flipped", served, refused)
	if served == 0 || refused == 0 {
		t.Errorf("the version did not flip under the requests: %d served, %d refused", served, refused)
	}
}

type discardSink struct{ started bool }

func (s *discardSink) StartResponse(int32, []byte) int32 {
	if s.started {
		return abi.ErrState
	}
	s.started = true
	return 0
}
func (s *discardSink) WriteBody([]byte) int32 { return 0 }
func (s *discardSink) Flush() int32           { return 0 }

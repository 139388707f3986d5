package host

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/chain"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/hostconfig"
	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader"
)

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
	ch, err := chain.New(nil, func(string) chain.Plugin { return nil }, servedPlugin{mp})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	req := chain.Request{R: r, PathInfo: "/", Client: &gateway.Client{}, RequestID: "r", Site: siteServices{s}}
	served, refused := 0, 0
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("a request through a link whose plugin was loading panicked: %v", v)
				}
			}()
			if _, err := ch.Serve(context.Background(), req, &discardSink{}); err != nil {
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

package host_test

import (
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// TestChaos runs good requests mixed with every kind of bad plugin on one
// server, for WASMHOST_CHAOS_SECONDS (default 8) on each engine: every good
// request must succeed with the right body, the host's memory and goroutines
// must come back, and the metrics must have counted the failures.
func TestChaos(t *testing.T) { forEachEngine(t, testChaos) }

func testChaos(t *testing.T, engine string) {
	if testing.Short() {
		t.Skip("-short")
	}
	seconds := 8
	if v := os.Getenv("WASMHOST_CHAOS_SECONDS"); v != "" {
		if n, err := time.ParseDuration(v + "s"); err == nil {
			seconds = int(n.Seconds())
		}
	}
	s := startSiteOpts(t, `
server { max_body_size = "1MB" }
plugin "hello"   {
  path = "{{hello}}"
  instances = 8
}
plugin "echo"    {
  path  = "{{echo}}"
  mount = "/echo"
}
plugin "loop"    {
  path = "{{loop}}"
  mount = "/loop"
  timeout = "200ms"
}
plugin "alloc"   {
  path = "{{alloc}}"
  mount = "/alloc"
  memory_limit = "32MB"
  instances = 4
}
plugin "panic"   {
  path = "{{panic}}"
  mount = "/panic"
}
plugin "bigbody" {
  path = "{{bigbody}}"
  mount = "/big"
}
plugin "badptr"  {
  path = "{{badptr}}"
  mount = "/bad"
}
plugin "slow"    {
  path = "{{slow}}"
  mount = "/slow"
  timeout = "300ms"
}`, siteOptions{level: hclog.Info, cacheDir: testutil.CacheDir(t), engine: engine})
	// Warm up, then take the baseline.
	for i := 0; i < 5; i++ {
		s.get(t, "/")
	}
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	goroutinesBefore := runtime.NumGoroutine()
	runtime.GC()
	rssBefore := rss(t)

	type kind struct {
		weight int
		path   string
		check  func(status int, body string) string // "" when as expected
	}
	good := func(want string) func(int, string) string {
		return func(status int, body string) string {
			if status != 200 || body != want {
				return "good request failed"
			}
			return ""
		}
	}
	anything := func(int, string) string { return "" }
	kinds := []kind{
		{40, "/", good("Hello, world\n")},
		{10, "/echo", nil}, // checked below: echoes a random body
		{5, "/loop", anything},
		{3, "/alloc?bomb=1", anything},
		{5, "/panic?panic=chaos", anything},
		{3, "/big?mb=1024", nil}, // read a little, then hang up
		{5, "/bad?case=write", anything},
		{5, "/bad?case=log", anything},
		{5, "/slow?ms=1000", anything},
		{5, "/slow?ms=10", anything}, // shares a 300ms timeout with the 1s sleepers: may time out under load
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var goodOK, goodFailed, bad atomic.Int64
	var failures sync.Map
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 7))
			for time.Now().Before(deadline) {
				n := rng.IntN(total)
				var k kind
				for _, k = range kinds {
					if n < k.weight {
						break
					}
					n -= k.weight
				}
				switch k.path {
				case "/echo":
					payload := strings.Repeat("e", 1+rng.IntN(200<<10))
					resp, err := client.Post(s.base+"/echo", "text/plain", strings.NewReader(payload))
					if err != nil {
						goodFailed.Add(1)
						failures.Store("echo: "+err.Error(), true)
						continue
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || string(b) != payload {
						goodFailed.Add(1)
						failures.Store("echo: wrong answer", true)
						continue
					}
					goodOK.Add(1)
				case "/big?mb=1024":
					resp, err := client.Get(s.base + k.path)
					if err == nil {
						io.CopyN(io.Discard, resp.Body, 1<<20)
						resp.Body.Close()
					}
					bad.Add(1)
				default:
					resp, err := client.Get(s.base + k.path)
					status, body := 0, ""
					if err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						status, body = resp.StatusCode, string(b)
					}
					isGood := k.path == "/"
					if msg := k.check(status, body); msg != "" || (isGood && err != nil) {
						goodFailed.Add(1)
						failures.Store(k.path+": "+msg, true)
						continue
					}
					if isGood {
						goodOK.Add(1)
					} else {
						bad.Add(1)
					}
				}
			}
		}(uint64(w))
	}
	wg.Wait()
	client.CloseIdleConnections()

	failures.Range(func(k, _ any) bool { t.Errorf("failure: %v", k); return true })
	t.Logf("%ds of chaos: %d good requests succeeded, %d failed; %d bad requests", seconds, goodOK.Load(), goodFailed.Load(), bad.Load())
	if goodFailed.Load() > 0 || goodOK.Load() == 0 {
		t.Errorf("%d good requests failed (of %d)", goodFailed.Load(), goodOK.Load()+goodFailed.Load())
	}

	// Goroutines and memory come back once the load is gone.
	var goroutinesAfter int
	for i := 0; i < 100; i++ {
		if goroutinesAfter = runtime.NumGoroutine(); goroutinesAfter <= goroutinesBefore+2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	runtime.GC()
	rssAfter := rss(t)
	t.Logf("goroutines: %d before, %d after; host RSS: %d MiB before, %d MiB after", goroutinesBefore, goroutinesAfter, rssBefore>>20, rssAfter>>20)
	if goroutinesAfter > goroutinesBefore+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines did not return to baseline: %d before, %d after\n%s", goroutinesBefore, goroutinesAfter, buf[:runtime.Stack(buf, true)])
	}
	// Each plugin may keep its instances warm: 32 instances of ~5-40 MiB,
	// and Go's heap keeps what it freed for a while. 768 MiB is the bound.
	if rssAfter > rssBefore+768<<20 {
		t.Errorf("host RSS grew from %d MiB to %d MiB", rssBefore>>20, rssAfter>>20)
	}

	metrics := httptestServer(t, s.srv.AdminHandler())
	resp, err := http.Get(metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wasmhost_guest_timeouts_total{worker="0",plugin="loop"} `,
		`wasmhost_guest_traps_total{worker="0",plugin="badptr"} `,
		`wasmhost_guest_traps_total{worker="0",plugin="alloc"} `,
	} {
		i := strings.Index(string(b), want)
		if i < 0 || strings.HasPrefix(string(b[i+len(want):]), "0\n") {
			t.Errorf("metrics: %q is missing or zero", want)
		}
	}
}

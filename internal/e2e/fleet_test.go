package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// TestFleetBehindNginx is the scale-out setup of docs/DEPLOYING.md: nginx
// in front of two wasmhost hosts, each with its own site.hcl and its own
// copy of the plugin, sharing their state in one redis-server. A session
// counter counts exactly whichever host answers; a rolling swap of the
// plugin (one host, then the other) under load loses no request; and when
// one host is killed, requests keep succeeding.
func TestFleetBehindNginx(t *testing.T) {
	nginxBin := nginxFind(t)
	redisURL := testutil.Redis(t)
	bin := testutil.Binary(t, "")
	v1 := testutil.Plugin(t, "plugins/examples/counter")
	v2 := testutil.PluginVariant(t, "plugins/examples/counter", "-X main.version=2")

	type host struct {
		name, wasm string
		p          *testutil.Process
	}
	hosts := []*host{{name: "host-a"}, {name: "host-b"}}
	var addrs []string
	for _, h := range hosts {
		dir := t.TempDir()
		h.wasm = filepath.Join(dir, "counter.wasm")
		testutil.CopyFile(t, v1, h.wasm)
		site := filepath.Join(dir, "site.hcl")
		os.WriteFile(site, []byte(fmt.Sprintf(`
kv "sessions" {
  backend = "redis"
  url     = %q
}
plugin "counter" {
  path = "counter.wasm"
  kv   = ["sessions"]
  env  = { SERVED_BY = %q }
}
`, redisURL, h.name)), 0o644)
		h.p = testutil.StartWasmhost(t, bin, "run", site, "--listen", "127.0.0.1:0")
		addrs = append(addrs, h.p.Addr)
	}
	ng := nginxStart(t, nginxBin, addrs)
	base := "http://" + ng.Addr + "/"
	defer func() {
		if t.Failed() {
			t.Logf("nginx log:\n%s", ng.logs())
			for _, h := range hosts {
				t.Logf("%s log:\n%s", h.name, h.p.Logs.String())
			}
		}
	}()

	jar, _ := cookiejar.New(nil)
	visitor := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	visits := 0
	visit := func(want string) (servedBy string) {
		t.Helper()
		resp, err := visitor.Get(base)
		if err != nil {
			t.Fatalf("visit %d: %v", visits+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		visits++
		if resp.StatusCode != 200 || string(b) != fmt.Sprintf("visits %d\n", visits) {
			t.Fatalf("visit %d: %d %q", visits, resp.StatusCode, b)
		}
		if want != "" && resp.Header.Get("X-Version") != want {
			t.Errorf("visit %d: version %q, want %q", visits, resp.Header.Get("X-Version"), want)
		}
		return resp.Header.Get("X-Served-By")
	}

	// The session counter counts exactly, over both hosts.
	served := map[string]int{}
	for i := 0; i < 20; i++ {
		served[visit("1")]++
	}
	if served["host-a"] == 0 || served["host-b"] == 0 {
		t.Errorf("20 visits were served by %v, want both hosts", served)
	}

	// A rolling swap under load: host a, then host b.
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(base)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
				} else {
					ok.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	for _, h := range hosts {
		tmp := h.wasm + ".new"
		testutil.CopyFile(t, v2, tmp)
		if err := os.Rename(tmp, h.wasm); err != nil {
			t.Fatal(err)
		}
		direct := "http://" + h.p.Addr + "/"
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := http.Get(direct)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Header.Get("X-Version") == "2" {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not swap to version 2 within 60s", h.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("rolling swap under load: %d requests succeeded, %d failed (last: %v)", ok.Load(), failed.Load(), lastErr.Load())
	}
	visit("2")

	// One host is killed: nginx sends the next requests to the other, and
	// the count goes on from the shared store.
	hosts[0].p.Cmd.Process.Signal(syscall.SIGKILL)
	hosts[0].p.Wait(10 * time.Second)
	for i := 0; i < 10; i++ {
		if by := visit("2"); by != "host-b" {
			t.Errorf("after host-a was killed, %q answered", by)
		}
	}
}

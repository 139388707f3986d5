package host_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/loaderprobe"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// TestSwapReloadShutdownRace runs watcher swaps, admin reloads, site
// reloads (HUP) and requests at once, shuts the server down in the middle
// of them, and then counts: every plugin runtime and every instance the
// loader made must be closed, whichever finished first.
func TestSwapReloadShutdownRace(t *testing.T) {
	live, v1, v2 := versions(t)
	hello := testutil.Plugin(t, "plugins/examples/hello")
	// Warm cache: every load is quick, so many happen before the shutdown.
	s := startSiteCache(t, siteText(live, hello, 0), testutil.CacheDir(t))
	for _, p := range []string{v1, v2, hello} {
		if err := s.loader.Precompile(context.Background(), "", p); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reloads, swaps atomic.Int64
	loop := func(f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				f(i)
			}
		}()
	}
	loop(func(i int) { // the watcher swaps on every copy
		testutil.CopyFile(t, []string{v1, v2}[i%2], live)
		swaps.Add(1)
		time.Sleep(20 * time.Millisecond)
	})
	loop(func(int) { s.srv.ReloadPlugin("a") })
	loop(func(i int) { // HUP: plugin b comes and goes, a's settings change
		site, diags := config.Parse([]byte(siteText(live, hello, i)), filepath.Join(dir, "site.hcl"))
		if diags.HasErrors() {
			t.Errorf("site.hcl: %s", config.FormatDiagnostics(diags))
			return
		}
		if s.srv.Reload(context.Background(), host.SiteOf(site)) == nil {
			reloads.Add(1)
		}
	})
	loop(func(int) {
		client := &http.Client{Timeout: 5 * time.Second}
		if resp, err := client.Get(s.base + "/b/"); err == nil {
			resp.Body.Close()
		}
	})
	// Shut down once each kind of change has happened a few times (the
	// test's own timeout bounds the wait).
	for reloads.Load() < 4 || swaps.Load() < 4 {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	// The changes go on a little after the shutdown, then stop.
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if n := loaderprobe.LiveInstances(s.loader); n != 0 {
		t.Errorf("%d instances alive after shutdown, want 0", n)
	}
	if n := loaderprobe.OpenPlugins(s.loader); n != 0 {
		t.Errorf("%d plugin runtimes open after shutdown, want 0", n)
	}
	t.Logf("%d site reloads and %d file swaps before shutdown", reloads.Load(), swaps.Load())
}

// siteText is a site whose plugin a has a setting that changes with i (so a
// reload replaces it) and whose plugin b exists every other i.
func siteText(live, hello string, i int) string {
	text := fmt.Sprintf("server { autoreload = true }\nplugin \"a\" {\n  path      = %q\n  instances = %d\n}\n", live, 1+i%3)
	if i%2 == 0 {
		text += fmt.Sprintf("plugin \"b\" {\n  path  = %q\n  mount = \"/b\"\n}\n", hello)
	}
	return text
}

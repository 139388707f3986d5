package host_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
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
	// The loops report failures here, and the test's goroutine fails the
	// test: t.Fatal ends only the goroutine that calls it, so a loop
	// calling it would leave the wait below spinning.
	failed := make(chan error, 1)
	fail := func(err error) {
		select {
		case failed <- err:
		default: // one is enough to stop the test
		}
	}
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
		if err := copyFile([]string{v1, v2}[i%2], live); err != nil {
			fail(err)
			return
		}
		swaps.Add(1)
		time.Sleep(20 * time.Millisecond)
	})
	loop(func(int) { s.srv.ReloadPlugin("a") })
	loop(func(i int) { // HUP: plugin b comes and goes, a's settings change
		site, diags := config.Parse([]byte(siteText(live, hello, i)), filepath.Join(dir, "site.hcl"))
		if diags.HasErrors() {
			fail(fmt.Errorf("site.hcl: %s", config.FormatDiagnostics(diags)))
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
	// Shut down once each kind of change has happened a few times, or when
	// a loop failed, or after a wait long enough for a loaded machine under
	// the race detector: the shutdown and the counts below are checked in
	// every case.
	waitLimit := time.After(2 * time.Minute)
wait:
	for reloads.Load() < 4 || swaps.Load() < 4 {
		select {
		case err := <-failed:
			t.Error(err)
			break wait
		case <-waitLimit:
			t.Errorf("after 2 minutes only %d site reloads and %d file swaps, want 4 of each", reloads.Load(), swaps.Load())
			break wait
		case <-time.After(10 * time.Millisecond):
		}
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
	select {
	case err := <-failed:
		t.Error(err)
	default:
	}
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

// copyFile is testutil.CopyFile (write beside, rename over: a watcher sees
// one complete file) returning its error, for a goroutine other than the
// test's.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

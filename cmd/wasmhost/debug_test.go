package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// TestDebugKeepsTheCompilationCache: on a warm cache, starting the example
// site with --debug takes at most twice as long as without it (debug used
// to turn the cache off and compile every plugin at every start).
func TestDebugKeepsTheCompilationCache(t *testing.T) {
	buildExamples(t)
	bin := testutil.Binary(t, "")
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // a cache of this test's own
	text, err := os.ReadFile(filepath.Join(testutil.Root(), "plugins/examples/site.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testutil.Root(), "plugins/examples")
	site := regexp.MustCompile(`(?m)^(\s*path\s*=\s*")([^"]+)"`).ReplaceAllString(string(text), "${1}"+dir+"/${2}\"")
	site = strings.Replace(site, `"127.0.0.1:9901"`, `"127.0.0.1:0"`, 1)
	sitePath := writeSite(t, site)
	start := func(args ...string) time.Duration {
		t.Helper()
		began := time.Now()
		p := testutil.StartWasmhost(t, bin, append([]string{"run", sitePath, "--listen", "127.0.0.1:0"}, args...)...)
		took := time.Since(began)
		p.Cmd.Process.Signal(syscall.SIGTERM)
		if err := p.Wait(30 * time.Second); err != nil {
			t.Fatalf("after SIGTERM: %v; log:\n%s", err, p.Logs.String())
		}
		return took
	}
	start() // warms the cache
	// The fastest of three starts each, alternating, so a slow moment of a
	// busy machine hits both kinds alike and does not decide.
	plain, debug := time.Duration(1<<62), time.Duration(1<<62)
	for range 3 {
		plain = min(plain, start())
		debug = min(debug, start("--debug"))
	}
	t.Logf("start on a warm cache: %v without --debug, %v with it", plain, debug)
	if debug > 2*plain {
		t.Errorf("--debug start took %v, more than twice the %v without it", debug, plain)
	}
}

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

// With --debug and several worker processes, source settings rebuild
// nothing: the master says so once at start, naming the plugins, instead
// of ignoring the edits silently.
func TestDebugPreforkSaysSourcesAreNotRebuilt(t *testing.T) {
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	testutil.CopyFile(t, testutil.Plugin(t, "plugins/examples/hello"), filepath.Join(dir, "hello.wasm"))
	site := filepath.Join(dir, "site.hcl")
	writeText(t, site, `server { listen = ["127.0.0.1:0"] }
plugin "hello" {
  path   = "hello.wasm"
  source = "`+filepath.Join(testutil.Root(), "plugins/examples/hello")+`"
}
`)
	p := testutil.StartWasmhost(t, bin, "run", "--debug", "--processes", "2", site)
	if got := curlBody(t, "http://"+p.Addr+"/"); !strings.HasPrefix(got, "Hello") {
		t.Errorf("curl / = %q", got)
	}
	logs := p.Logs.String()
	if n := strings.Count(logs, "source rebuilds need processes = 1"); n != 1 || !strings.Contains(logs, "plugins=hello") {
		t.Errorf("the warning appears %d times (want once, naming hello):\n%s", n, logs)
	}
}

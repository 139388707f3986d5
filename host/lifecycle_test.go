package host_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// TestShutdownAbandonsABackgroundCompile: a swap to a module whose machine
// code is not cached serves it interpreted and compiles it in the
// background, which takes a second or more. A Shutdown begun meanwhile
// returns by its own deadline, before that compile could have finished;
// the compile, abandoned, closes what it loaded when it ends (engines
// cannot interrupt a compile on one goroutine).
func TestShutdownAbandonsABackgroundCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiles a module afresh")
	}
	forEachEngine(t, testShutdownAbandonsABackgroundCompile)
}

func testShutdownAbandonsABackgroundCompile(t *testing.T, engine string) {
	live, _, v2 := versions(t)
	s := startSiteOpts(t, `plugin "v" { path = "`+live+`" }`, siteOptions{level: hclog.Info, engine: engine}) // no shared cache: v2 is new here
	testutil.CopyFile(t, v2, live)
	waitVersion(t, s.base+"/", "two", 5*time.Second)
	if !s.srv.Plugin("v").Interpreted {
		t.Skip("version two compiled before the test could shut down; nothing to abandon")
	}

	const timeout = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	s.srv.Shutdown(ctx)
	took := time.Since(start)
	t.Logf("Shutdown with a compile in flight took %v (deadline %v)", took, timeout)
	// A loose bound: a compile of this module takes a second or more.
	if took > timeout+time.Second {
		t.Errorf("Shutdown took %v with a deadline of %v", took, timeout)
	}
	// The abandoned compile ends by itself and closes what it loaded.
	for deadline := time.Now().Add(60 * time.Second); s.loader.OpenPlugins() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d plugin runtimes still open 60s after Shutdown", s.loader.OpenPlugins())
		}
	}
	logs := s.logs.String()
	if strings.Contains(logs, "new version compiled and in service") {
		t.Errorf("the compiled version was put in service by a server shut down")
	}
	if !strings.Contains(logs, "compile was abandoned") {
		t.Errorf("no log line saying the compile was abandoned")
	}
}

package loader

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// TestInitSleepHonoursInitTimeout: a guest sleeping in its init is woken by
// the init deadline, as a guest sleeping in a request is by the request's,
// and the load fails naming the plugin.
func TestInitSleepHonoursInitTimeout(t *testing.T) {
	l, err := New(Options{CacheDir: testutil.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	path := testutil.Plugin(t, "plugins/testplugins/initsleep")
	// Compile first, so the bound below measures the init deadline only.
	if err := l.Precompile(context.Background(), "", path); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p, err := l.Load(context.Background(), Config{
		Name: "sleepy", Path: path, Instances: 1,
		Env: map[string]string{"INIT_SLEEP": "20s"}, InitTimeout: 500 * time.Millisecond,
	})
	took := time.Since(start)
	if err == nil {
		p.Close()
		t.Fatalf("loaded a plugin whose init sleeps 20s with a 500ms init timeout (after %v)", took)
	}
	limit := 1500 * time.Millisecond
	if raceEnabled {
		limit = 10 * time.Second // still far below the 20 s sleep
	}
	if took > limit {
		t.Errorf("Load returned after %v, want within %v of a 500ms init timeout", took, limit)
	}
	if !strings.Contains(err.Error(), "sleepy") || !strings.Contains(err.Error(), "500ms") {
		t.Errorf("error %q does not name the plugin and the init timeout", err)
	}
	if n := l.liveInstances(); n != 0 {
		t.Errorf("%d instances alive after a failed load", n)
	}
}

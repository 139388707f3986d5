package loader

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// A compilation to machine code says when it starts (with the module's
// size), that it is still running, and when it ends (with its time); one
// served from the cache says nothing at info level.
func TestCompileIsLogged(t *testing.T) {
	path := testutil.Plugin(t, "plugins/examples/hello")
	defer func(d time.Duration) { compileProgressEvery = d }(compileProgressEvery)
	compileProgressEvery = 20 * time.Millisecond // hello compiles in a second or more
	var logs testutil.LockedBuffer
	l, err := New(Options{CacheDir: t.TempDir(), Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer l.Close(ctx)
	if err := l.Precompile(ctx, "", path); err != nil {
		t.Fatal(err)
	}
	first := logs.String()
	for _, want := range []string{"compiling to machine code: engine=wazero module_size=\"", "still compiling:", "compiled: engine=wazero module_size=", "took="} {
		if !strings.Contains(first, want) {
			t.Errorf("the log of a compile lacks %q:\n%s", want, first)
		}
	}
	if err := l.Precompile(ctx, "", path); err != nil {
		t.Fatal(err)
	}
	if again := logs.String()[len(first):]; again != "" {
		t.Errorf("a compile served from the cache logged:\n%s", again)
	}
	if !InterpretWhileCompiling(8_200_000) || InterpretWhileCompiling(26_000_000) {
		t.Errorf("InterpretWhileCompiling: a hello-sized module (8.2 MB) should be interpreted while it compiles, a gin-sized one (26 MB) not")
	}
}

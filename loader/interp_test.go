package loader

import (
	"context"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// TestInterpretedGuestIsStoppedToo: the interpreter, used while a swapped
// module compiles, honours deadlines like compiled code.
func TestInterpretedGuestIsStoppedToo(t *testing.T) {
	for _, engine := range Engines() {
		t.Run(engine, func(t *testing.T) { testInterpretedGuestIsStoppedToo(t, engine) })
	}
}

func testInterpretedGuestIsStoppedToo(t *testing.T, engine string) {
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), Config{
		Name: "loop", Path: testutil.Plugin(t, "plugins/testplugins/loop"), Instances: 1, Interpreted: true, Engine: engine,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.Interpreted {
		t.Fatal("loaded compiled")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	ex := &checkingExchange{t: t}
	err = p.Serve(ctx, ex, 0)
	if err != ErrTimeout || time.Since(start) > 5*time.Second {
		t.Errorf("interpreted looping guest: %v after %v, want ErrTimeout soon after 200ms", err, time.Since(start))
	}
}

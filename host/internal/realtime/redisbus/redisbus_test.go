package redisbus_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
	"github.com/wasmhost/wasmhost/host/internal/realtime/redisbus"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

func hub(t *testing.T, url, prefix string) *realtime.Hub {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	h, err := realtime.NewHub(redisbus.New(rdb, prefix), realtime.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Two hubs (two hosts) sharing a real redis-server: a publish on either
// reaches subscribers on both, SendTo crosses to the other.
func TestRedisTwoHubs(t *testing.T) {
	url := testutil.Redis(t)
	a := realtimetest.NewServer(t, hub(t, url, "wasmhost:pubsub:default:"), map[string]realtime.Settings{"/ws": {}})
	b := realtimetest.NewServer(t, hub(t, url, "wasmhost:pubsub:default:"), map[string]realtime.Settings{"/ws": {}})
	realtimetest.CheckAcrossHubs(t, a, b)

	// A hub of another pubsub block on the same Redis hears nothing.
	other := hub(t, url, "wasmhost:pubsub:other:")
	before := other.Stats().Published["room"]
	if err := a.Hub.Publish(t.Context(), "room", []byte("x")); err != nil {
		t.Fatal(err)
	}
	seen := a.Hub.Stats().Published["room"]
	if err := b.Hub.Publish(t.Context(), "room", []byte("y")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); a.Hub.Stats().Published["room"] == seen; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b's publish did not reach a")
		}
	}
	if n := other.Stats().Published["room"]; n != before {
		t.Fatalf("another block's hub saw %d messages", n-before)
	}
}

package relay_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
	"github.com/wasmhost/wasmhost/host/internal/realtime/relay"
)

func hub(t *testing.T, sock string) (*realtime.Hub, *relay.Client) {
	t.Helper()
	c := relay.Dial(sock)
	h, err := realtime.NewHub(c, realtime.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, c
}

func listen(t *testing.T, sock string) *relay.Server {
	t.Helper()
	srv, err := relay.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func waitPeers(t *testing.T, s *relay.Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.Peers() != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d hubs joined the relay, want %d", s.Peers(), n)
		}
	}
}

// Two hubs (two workers) joined through the master's relay: a publish on
// either reaches subscribers on both, SendTo crosses to the other.
func TestRelayTwoHubs(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "relay.sock")
	srv := listen(t, sock)
	defer srv.Close()
	ha, _ := hub(t, sock)
	hb, _ := hub(t, sock)
	waitPeers(t, srv, 2)
	a := realtimetest.NewServer(t, ha, map[string]realtime.Settings{"/ws": {}})
	b := realtimetest.NewServer(t, hb, map[string]realtime.Settings{"/ws": {}})
	realtimetest.CheckAcrossHubs(t, a, b)
}

// A worker whose master restarts the relay joins again by itself.
func TestRelayReconnect(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "relay.sock")
	srv := listen(t, sock)
	ha, ca := hub(t, sock)
	hb, _ := hub(t, sock)
	<-ca.Ready()
	waitPeers(t, srv, 2)
	srv.Close()
	srv = listen(t, sock)
	defer srv.Close()
	waitPeers(t, srv, 2)
	a := realtimetest.NewServer(t, ha, map[string]realtime.Settings{"/ws": {}})
	b := realtimetest.NewServer(t, hb, map[string]realtime.Settings{"/ws": {}})
	realtimetest.CheckAcrossHubs(t, a, b)
}

// A second relay on a socket in use is refused rather than stealing it.
func TestRelaySocketInUse(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "relay.sock")
	srv := listen(t, sock)
	defer srv.Close()
	if _, err := relay.Listen(sock); err == nil {
		t.Fatal("a second relay listened on a socket in use")
	}
}

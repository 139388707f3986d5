package live

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/host/internal/realtime/redisbus"
	"github.com/wasmhost/wasmhost/host/internal/realtime/relay"
	"github.com/wasmhost/wasmhost/internal/config"
)

// Hubs are a worker's hubs, one per pubsub block of the site.
type Hubs struct {
	hubs map[string]*realtime.Hub
}

// NewHubs opens a hub for each block. A local block joins the other
// workers of this host through the master's relay at relayPath ("" when
// the worker is the only process); a redis block joins every host that
// shares its server.
func NewHubs(blocks []config.Pubsub, relayPath string) (*Hubs, error) {
	h := &Hubs{hubs: map[string]*realtime.Hub{}}
	for _, b := range blocks {
		hub, err := newHub(b, relayPath)
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("pubsub %q: %w", b.Name, err)
		}
		h.hubs[b.Name] = hub
	}
	return h, nil
}

func newHub(b config.Pubsub, relayPath string) (*realtime.Hub, error) {
	var backend realtime.Backend
	switch {
	case b.Backend == config.PubsubRedis:
		opt, err := redis.ParseURL(b.URL)
		if err != nil {
			// The URL may hold a password: the parser's error is not repeated.
			return nil, errors.New("the redis url does not parse")
		}
		backend = redisbus.New(redis.NewClient(opt), "wasmhost:pubsub:"+b.Name+":")
	case relayPath != "":
		backend = relay.Dial(relayPath + "." + b.Name)
	}
	return realtime.NewHub(backend, realtime.HubOptions{})
}

// Hub is the hub of the block named name, nil for none.
func (h *Hubs) Hub(name string) *realtime.Hub {
	if h == nil {
		return nil
	}
	return h.hubs[name]
}

// Stats are every hub's counters, by block name.
func (h *Hubs) Stats() map[string]realtime.HubStats {
	out := map[string]realtime.HubStats{}
	if h == nil {
		return out
	}
	for name, hub := range h.hubs {
		out[name] = hub.Stats()
	}
	return out
}

// Close closes every hub: event streams end, publishes fail.
func (h *Hubs) Close() {
	if h == nil {
		return
	}
	for _, hub := range h.hubs {
		hub.Close()
	}
}

// StartRelays serves, for a prefork master, one relay socket per local
// block at base.NAME (the path NewHubs dials with relayPath = base); it
// returns how many it serves and a stop that closes them.
func StartRelays(blocks []config.Pubsub, base string) (n int, stop func(), err error) {
	var servers []*relay.Server
	stop = func() {
		for _, s := range servers {
			s.Close()
		}
	}
	for _, b := range blocks {
		if b.Backend != config.PubsubLocal {
			continue
		}
		srv, err := relay.Listen(base + "." + b.Name)
		if err != nil {
			stop()
			return 0, func() {}, fmt.Errorf("pubsub %q: %w", b.Name, err)
		}
		servers = append(servers, srv)
	}
	return len(servers), stop, nil
}

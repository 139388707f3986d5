package host

import (
	"sort"
	"strconv"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/internal/status"
)

// realtimeStatus is a plugin's connections for /status, nil without a
// websocket block.
func realtimeStatus(mp *mountedPlugin) *status.Realtime {
	if mp.live == nil || mp.live.Endpoint() == nil {
		return nil
	}
	st := mp.live.Endpoint().Stats()
	closes := make(map[string]uint64, len(st.Closes))
	for code, n := range st.Closes {
		closes[strconv.Itoa(code)] = n
	}
	return &status.Realtime{Open: st.Open, Accepted: st.Accepted, Refused: st.Refused,
		MessagesIn: st.MessagesIn, MessagesOut: st.MessagesOut, Closes: closes}
}

func (s *Server) pubsubStatus() []status.Pubsub {
	stats := s.hubs.Stats()
	out := make([]status.Pubsub, 0, len(stats))
	for name, h := range stats {
		out = append(out, status.Pubsub{Name: name, Streams: h.Streams, EventsOut: h.EventsOut, Published: h.Published})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// writeRealtimeMetrics writes the connections of each plugin with a
// websocket block and the topics of each pubsub hub.
func (s *Server) writeRealtimeMetrics(p *status.PromWriter) {
	type endpoint struct {
		name string
		st   realtime.EndpointStats
	}
	var eps []endpoint
	for _, mp := range s.state.Load().plugins {
		if mp.live != nil && mp.live.Endpoint() != nil {
			eps = append(eps, endpoint{mp.cfg.Name, mp.live.Endpoint().Stats()})
		}
	}
	if len(eps) > 0 {
		p.Family("wasmhost_websocket_connections", "gauge", "WebSocket connections open now.")
		for _, e := range eps {
			p.Sample("wasmhost_websocket_connections", i64(e.st.Open), "plugin", e.name)
		}
		p.Family("wasmhost_websocket_messages_total", "counter", "WebSocket messages, by direction (in: from clients).")
		for _, e := range eps {
			p.Sample("wasmhost_websocket_messages_total", u64(e.st.MessagesIn), "plugin", e.name, "direction", "in")
			p.Sample("wasmhost_websocket_messages_total", u64(e.st.MessagesOut), "plugin", e.name, "direction", "out")
		}
		p.Family("wasmhost_websocket_closes_total", "counter", "WebSocket connections closed, by close code.")
		for _, e := range eps {
			for _, code := range sortedKeys(e.st.Closes) {
				p.Sample("wasmhost_websocket_closes_total", u64(e.st.Closes[code]), "plugin", e.name, "code", strconv.Itoa(code))
			}
		}
		p.Family("wasmhost_websocket_refused_total", "counter", "WebSocket upgrades refused, by reason (origin, limit, open).")
		for _, e := range eps {
			for _, reason := range sortedKeys(e.st.Refused) {
				p.Sample("wasmhost_websocket_refused_total", u64(e.st.Refused[reason]), "plugin", e.name, "reason", reason)
			}
		}
	}
	hubs := s.pubsubStatus()
	if len(hubs) == 0 {
		return
	}
	p.Family("wasmhost_pubsub_streams", "gauge", "Server-sent event streams open now.")
	for _, h := range hubs {
		p.Sample("wasmhost_pubsub_streams", i64(h.Streams), "pubsub", h.Name)
	}
	p.Family("wasmhost_pubsub_published_total", "counter", "Messages a hub delivered, per topic (published on any worker or host).")
	for _, h := range hubs {
		for _, topic := range sortedKeys(h.Published) {
			p.Sample("wasmhost_pubsub_published_total", u64(h.Published[topic]), "pubsub", h.Name, "topic", topic)
		}
	}
}

func sortedKeys[K int | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

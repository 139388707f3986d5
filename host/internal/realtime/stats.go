package realtime

import (
	"maps"
	"sync"
	"sync/atomic"
)

// EndpointStats are one endpoint's (one plugin's, in one worker)
// WebSocket counters. All but Open only grow.
type EndpointStats struct {
	Open        int64             // connections open now
	Accepted    uint64            // upgrades accepted
	Refused     map[string]uint64 // upgrades refused, by reason: "origin", "limit", "open"
	MessagesIn  uint64            // messages read from clients
	MessagesOut uint64            // messages written to clients
	Closes      map[int]uint64    // closed connections by close code (1006: no close frame)
}

// HubStats are one hub's topic counters. Topics are counted as they are
// named, so their number grows with the topics an application uses.
type HubStats struct {
	Streams   int64             // event streams open now
	EventsOut uint64            // events written to streams
	Published map[string]uint64 // messages delivered by this hub, per topic (its own and other hubs')
	Delivered map[string]uint64 // fan-out: subscribers reached, per topic
}

type endpointStats struct {
	open, accepted, in, out atomic.Int64
	mu                      sync.Mutex
	refused                 map[string]uint64
	closes                  map[int]uint64
}

func newEndpointStats() endpointStats {
	return endpointStats{refused: map[string]uint64{}, closes: map[int]uint64{}}
}

func (s *endpointStats) refuse(reason string) {
	s.mu.Lock()
	s.refused[reason]++
	s.mu.Unlock()
}

func (s *endpointStats) closed(code int) {
	s.mu.Lock()
	s.closes[code]++
	s.mu.Unlock()
}

func (s *endpointStats) snapshot() EndpointStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return EndpointStats{
		Open: s.open.Load(), Accepted: uint64(s.accepted.Load()), Refused: maps.Clone(s.refused),
		MessagesIn: uint64(s.in.Load()), MessagesOut: uint64(s.out.Load()), Closes: maps.Clone(s.closes),
	}
}

type hubStats struct {
	streams, eventsOut atomic.Int64
	mu                 sync.Mutex
	published          map[string]uint64
	delivered          map[string]uint64
}

func newHubStats() hubStats {
	return hubStats{published: map[string]uint64{}, delivered: map[string]uint64{}}
}

func (s *hubStats) count(topic string, n int) {
	s.mu.Lock()
	s.published[topic]++
	s.delivered[topic] += uint64(n)
	s.mu.Unlock()
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() HubStats {
	s := &h.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	return HubStats{Streams: s.streams.Load(), EventsOut: uint64(s.eventsOut.Load()),
		Published: maps.Clone(s.published), Delivered: maps.Clone(s.delivered)}
}

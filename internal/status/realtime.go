package status

import "maps"

// Realtime is a plugin's WebSocket connections in /status.
type Realtime struct {
	Open        int64             `json:"open"` // connections open now
	Accepted    uint64            `json:"accepted"`
	Refused     map[string]uint64 `json:"refused"` // by reason: origin, limit, open
	MessagesIn  uint64            `json:"messages_in"`
	MessagesOut uint64            `json:"messages_out"`
	Closes      map[string]uint64 `json:"closes"` // by close code
}

// Add adds another worker's connections of the same plugin.
func (r *Realtime) Add(o Realtime) {
	r.Open += o.Open
	r.Accepted += o.Accepted
	r.MessagesIn += o.MessagesIn
	r.MessagesOut += o.MessagesOut
	r.Refused = addCounts(r.Refused, o.Refused)
	r.Closes = addCounts(r.Closes, o.Closes)
}

// Pubsub is one pubsub block's hub in /status.
type Pubsub struct {
	Name      string            `json:"name"`
	Streams   int64             `json:"streams"` // event streams open now
	EventsOut uint64            `json:"events_out"`
	Published map[string]uint64 `json:"published"` // messages delivered by the hub, per topic
}

func addCounts(a, b map[string]uint64) map[string]uint64 {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]uint64{}
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

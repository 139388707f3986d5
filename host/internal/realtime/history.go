package realtime

import "sync"

// history keeps the most recent published messages, bounded in count and
// bytes, so an event stream reconnecting with Last-Event-ID can be sent
// what it missed. add runs under the hub's read lock, so deliveries of
// different publishers may call it at once: it has a mutex of its own.
type history struct {
	mu       sync.Mutex
	max, mem int
	size     int
	first    uint64 // sequence of buf[0]
	buf      []*message
	seqOf    map[string]uint64
}

func newHistory(n, mem int) *history {
	return &history{max: n, mem: mem, seqOf: map[string]uint64{}}
}

func (h *history) add(m *message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seqOf[m.id] = h.first + uint64(len(h.buf))
	h.buf = append(h.buf, m)
	h.size += len(m.data)
	for len(h.buf) > h.max || (h.size > h.mem && len(h.buf) > 1) {
		old := h.buf[0]
		h.buf[0] = nil
		h.buf = h.buf[1:]
		h.size -= len(old.data)
		delete(h.seqOf, old.id)
		h.first++
	}
	if cap(h.buf) > 4*h.max {
		h.buf = append(make([]*message, 0, 2*h.max), h.buf...)
	}
}

// since returns the messages of topics after the one with id lastID.
func (h *history) since(lastID string, topics []string) ([]*message, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seq, ok := h.seqOf[lastID]
	if !ok {
		return nil, false
	}
	var out []*message
	for _, m := range h.buf[seq-h.first+1:] {
		for _, t := range topics {
			if m.topic == t {
				out = append(out, m)
				break
			}
		}
	}
	return out, true
}

package realtime

import (
	"bytes"
	"net/http"
	"sync"
	"time"
)

// StreamOptions tune an event stream; the zero value is usable.
type StreamOptions struct {
	KeepAlive    time.Duration // a comment line this often (default 15s), so proxies keep the stream
	Buffer       int64         // queued bytes past which a stream that does not keep up ends (default 1 MiB)
	WriteTimeout time.Duration // bound of one write (default 10s)
}

// stream is one server-sent event response subscribed to topics.
type stream struct {
	limit int64

	mu      sync.Mutex
	queue   []*message
	queued  int64
	over    bool
	wake    chan struct{} // one pending wake-up
	stopped chan struct{}
	once    sync.Once
}

func (s *stream) deliver(m *message) {
	s.mu.Lock()
	if s.over {
		s.mu.Unlock()
		return
	}
	if s.queued > 0 && s.queued+int64(len(m.data)) > s.limit {
		s.over = true
		s.mu.Unlock()
		s.stop()
		return
	}
	s.queue = append(s.queue, m)
	s.queued += int64(len(m.data))
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *stream) stop() { s.once.Do(func() { close(s.stopped) }) }

func (s *stream) take() []*message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue, s.queued = nil, 0
	return q
}

// ServeEvents keeps the response open as text/event-stream and writes
// each message published to topics as an event: an "id:" line with the
// message's id and one "data:" line per line of its data. It returns
// when the client goes, the hub closes, or the stream falls a buffer
// behind (the client reconnects and, with Last-Event-ID, gets what it
// missed if still recorded).
//
// Last-Event-ID is honoured from this hub's history: the most recent
// messages it delivered (HubOptions), its own publishes and other hubs'.
// An id that has left the history, or that this hub never saw (it had
// not started, or a Redis message came while it was not subscribed),
// cannot be replayed: Redis pub/sub keeps nothing. The stream then says
// so in a comment and goes on from the present.
func (h *Hub) ServeEvents(w http.ResponseWriter, r *http.Request, opt StreamOptions, topics ...string) error {
	if opt.KeepAlive <= 0 {
		opt.KeepAlive = 15 * time.Second
	}
	if opt.Buffer <= 0 {
		opt.Buffer = DefaultSendBuffer
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultWriteTimeout
	}
	for _, t := range topics {
		if !validTopic(t) {
			return ErrTopic
		}
	}
	s := &stream{limit: opt.Buffer, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	replay, found, err := h.subscribeReplay(topics, s, r.Header.Get("Last-Event-ID"))
	if err != nil {
		return err
	}
	defer h.unsubscribe(s, topics...)
	h.stats.streams.Add(1)
	defer h.stats.streams.Add(-1)

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
	w.WriteHeader(http.StatusOK)
	out := &eventWriter{w: w, rc: http.NewResponseController(w), timeout: opt.WriteTimeout, hub: h}
	var b bytes.Buffer
	b.WriteString(": stream open\n\n")
	if !found {
		b.WriteString(": Last-Event-ID is not in this server's history; events since it are lost\n\n")
	}
	if err := out.write(&b, replay); err != nil {
		return nil
	}
	tick := time.NewTicker(opt.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.stopped:
			return nil
		case <-s.wake:
			if err := out.write(&b, s.take()); err != nil {
				return nil
			}
		case <-tick.C:
			b.WriteString(": keep-alive\n\n")
			if err := out.write(&b, nil); err != nil {
				return nil
			}
		}
	}
}

type eventWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	hub     *Hub
}

// write sends what b holds, then the events of ms, and flushes.
func (e *eventWriter) write(b *bytes.Buffer, ms []*message) error {
	for _, m := range ms {
		appendEvent(b, m)
	}
	e.rc.SetWriteDeadline(time.Now().Add(e.timeout)) // not every writer has deadlines
	_, err := e.w.Write(b.Bytes())
	b.Reset()
	if err == nil {
		err = e.rc.Flush()
	}
	if err == nil {
		e.hub.stats.eventsOut.Add(int64(len(ms)))
	}
	return err
}

// appendEvent writes m as one event. A line ends at "\r\n", "\n" or
// "\r" in the event stream format, so each becomes a "data:" line of its
// own and the client joins them back with "\n".
func appendEvent(b *bytes.Buffer, m *message) {
	b.WriteString("id: ")
	b.WriteString(m.id)
	b.WriteByte('\n')
	d := m.data
	for {
		i := bytes.IndexAny(d, "\r\n")
		b.WriteString("data: ")
		if i < 0 {
			b.Write(d)
			b.WriteByte('\n')
			break
		}
		b.Write(d[:i])
		b.WriteByte('\n')
		if d[i] == '\r' && i+1 < len(d) && d[i+1] == '\n' {
			i++
		}
		d = d[i+1:]
	}
	b.WriteByte('\n')
}

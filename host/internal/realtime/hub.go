package realtime

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Backend carries envelopes between the hubs of one pubsub block: the
// workers of a host (relay) or the hosts sharing a Redis (redisbus).
type Backend interface {
	// Start is called once by NewHub: from then on the backend passes
	// what other hubs send to this one (hubID) to recv, one at a time.
	Start(hubID string, recv func(Envelope)) error
	// Broadcast sends e to every other hub.
	Broadcast(ctx context.Context, e Envelope) error
	// Send sends e to the hub named hubID only.
	Send(ctx context.Context, hubID string, e Envelope) error
	// Close stops the backend; recv is not called after it returns.
	Close() error
}

// Limits on what one subscriber can make a hub keep.
const (
	MaxTopicLen       = 256
	MaxTopicsPerConn  = 256
	defaultHistoryLen = 1024
	defaultHistoryMem = 1 << 20
)

var (
	// ErrNoConnection is SendTo's answer for a connection id of this hub
	// that is not (or no longer) open.
	ErrNoConnection = errors.New("realtime: no such connection")
	// ErrTopic is returned for an empty topic or one past MaxTopicLen.
	ErrTopic = errors.New("realtime: invalid topic")
	// ErrTooManyTopics is returned past MaxTopicsPerConn subscriptions.
	ErrTooManyTopics = errors.New("realtime: too many topics for one connection")
	// ErrClosed is returned by a closed hub or connection.
	ErrClosed = errors.New("realtime: closed")
)

// HubOptions tune a Hub; the zero value is usable.
type HubOptions struct {
	// HistoryLen and HistoryBytes bound the recent messages kept for
	// server-sent event streams that reconnect with Last-Event-ID
	// (defaults 1024 messages, 1 MiB).
	HistoryLen   int
	HistoryBytes int
}

// A Hub joins connections and event streams to topics. One hub serves
// one pubsub block in one worker process.
type Hub struct {
	id      string
	backend Backend

	mu      sync.RWMutex
	topics  map[string]map[subscriber]struct{}
	conns   map[string]*Conn
	closed  bool
	history *history

	connSeq atomic.Uint64
	msgSeq  atomic.Uint64
	stats   hubStats
}

// subscriber is what a hub delivers to: a WebSocket connection or an
// event stream. deliver must not block.
type subscriber interface {
	deliver(m *message)
}

// message is one published (or sent) message, shared by every
// subscriber it is delivered to.
type message struct {
	id     string
	topic  string
	data   []byte
	binary bool // not valid UTF-8: sent as a binary frame
}

func newMessage(id, topic string, data []byte) *message {
	return &message{id: id, topic: topic, data: data, binary: !utf8.Valid(data)}
}

// NewHub returns a hub joined to other hubs by b; with b nil it serves
// this process only.
func NewHub(b Backend, opt HubOptions) (*Hub, error) {
	if opt.HistoryLen <= 0 {
		opt.HistoryLen = defaultHistoryLen
	}
	if opt.HistoryBytes <= 0 {
		opt.HistoryBytes = defaultHistoryMem
	}
	h := &Hub{
		id:      newHubID(),
		backend: b,
		topics:  map[string]map[subscriber]struct{}{},
		conns:   map[string]*Conn{},
		history: newHistory(opt.HistoryLen, opt.HistoryBytes),
		stats:   newHubStats(),
	}
	if b != nil {
		if err := b.Start(h.id, h.receive); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// newHubID is 100 random bits, so ids are unique across the workers and
// hosts that share a backend without any coordination.
func newHubID() string {
	var b [13]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:20]
}

// ID is the hub's id, the prefix of its connections' ids.
func (h *Hub) ID() string { return h.id }

// HubOf is the id of the hub holding the connection id.
func HubOf(connID string) string {
	i := strings.LastIndexByte(connID, '.')
	if i < 0 {
		return ""
	}
	return connID[:i]
}

func (h *Hub) newConnID() string {
	return h.id + "." + strconv.FormatUint(h.connSeq.Add(1), 36)
}

func (h *Hub) newMsgID() string {
	return h.id + "-" + strconv.FormatUint(h.msgSeq.Add(1), 36)
}

// Publish delivers data to every subscriber of topic on this hub and,
// through the backend, on every other. Data that is valid UTF-8 goes to
// WebSocket clients as a text message, anything else as binary. An
// error means other hubs may have missed it; this hub's subscribers
// have it.
func (h *Hub) Publish(ctx context.Context, topic string, data []byte) error {
	if !validTopic(topic) {
		return ErrTopic
	}
	e := Envelope{Kind: KindPublish, Origin: h.id, ID: h.newMsgID(), Topic: topic, Data: data}
	if !h.deliverTopic(newMessage(e.ID, topic, data)) {
		return ErrClosed
	}
	if h.backend == nil {
		return nil
	}
	return h.backend.Broadcast(ctx, e)
}

// SendTo delivers data to the one connection id, on this hub or, through
// the backend, on the hub that holds it. For a connection of another hub
// no error does not mean it was open: the backend does not answer.
func (h *Hub) SendTo(ctx context.Context, id string, data []byte) error {
	hub := HubOf(id)
	if hub == "" {
		return ErrNoConnection
	}
	if hub == h.id {
		return h.sendLocal(newMessage(h.newMsgID(), "", data), id)
	}
	if h.backend == nil {
		return ErrNoConnection
	}
	return h.backend.Send(ctx, hub, Envelope{Kind: KindSendTo, Origin: h.id, ID: h.newMsgID(), Target: id, Data: data})
}

// Conn is the open connection id of this hub, or nil: what a host call
// naming a connection by id resolves it with.
func (h *Hub) Conn(id string) *Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.conns[id]
}

func (h *Hub) sendLocal(m *message, id string) error {
	c := h.Conn(id)
	if c == nil {
		return ErrNoConnection
	}
	return c.enqueue(m)
}

// receive is what the backend calls with another hub's envelopes.
func (h *Hub) receive(e Envelope) {
	if e.Origin == h.id || strings.ContainsAny(e.ID, "\r\n") {
		return // an id ends up on an SSE "id:" line
	}
	switch e.Kind {
	case KindPublish:
		if validTopic(e.Topic) {
			h.deliverTopic(newMessage(e.ID, e.Topic, e.Data))
		}
	case KindSendTo:
		if HubOf(e.Target) == h.id {
			h.sendLocal(newMessage(e.ID, "", e.Data), e.Target)
		}
	}
}

// deliverTopic records m for replay and hands it to every subscriber of
// its topic. The read lock is held across both so that a stream
// subscribing with replay (under the write lock) sees each message
// exactly once: in its replay or live.
func (h *Hub) deliverTopic(m *message) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return false
	}
	h.history.add(m)
	subs := h.topics[m.topic]
	for s := range subs {
		s.deliver(m)
	}
	h.stats.count(m.topic, len(subs))
	return true
}

func validTopic(t string) bool { return t != "" && len(t) <= MaxTopicLen }

func (h *Hub) subscribe(topic string, s subscriber) error {
	if !validTopic(topic) {
		return ErrTopic
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	subs := h.topics[topic]
	if subs == nil {
		subs = map[subscriber]struct{}{}
		h.topics[topic] = subs
	}
	subs[s] = struct{}{}
	return nil
}

// subscribeReplay subscribes s to topics and returns the recorded
// messages of those topics published after lastID; ok is false when
// lastID is not (or no longer) in the history.
func (h *Hub) subscribeReplay(topics []string, s subscriber, lastID string) (replay []*message, ok bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, ErrClosed
	}
	for _, t := range topics {
		subs := h.topics[t]
		if subs == nil {
			subs = map[subscriber]struct{}{}
			h.topics[t] = subs
		}
		subs[s] = struct{}{}
	}
	if lastID == "" {
		return nil, true, nil
	}
	replay, ok = h.history.since(lastID, topics)
	return replay, ok, nil
}

func (h *Hub) unsubscribe(s subscriber, topics ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range topics {
		if subs := h.topics[t]; subs != nil {
			delete(subs, s)
			if len(subs) == 0 {
				delete(h.topics, t)
			}
		}
	}
}

func (h *Hub) register(c *Conn) {
	h.mu.Lock()
	h.conns[c.id] = c
	h.mu.Unlock()
}

func (h *Hub) unregister(c *Conn, topics []string) {
	h.mu.Lock()
	delete(h.conns, c.id)
	h.mu.Unlock()
	h.unsubscribe(c, topics...)
}

// Close stops the backend; publishes fail from then on. Connections are
// closed by their endpoints, streams end by themselves.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	streams := make([]*stream, 0)
	for _, subs := range h.topics {
		for s := range subs {
			if st, ok := s.(*stream); ok {
				streams = append(streams, st)
			}
		}
	}
	h.mu.Unlock()
	for _, st := range streams {
		st.stop()
	}
	if h.backend != nil {
		return h.backend.Close()
	}
	return nil
}

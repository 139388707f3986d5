//go:build !wasip1

package sdk

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/wasmhost/wasmhost/abi"
)

// Natively (go test, httptest) the realtime calls work over one in-memory
// hub in the process: Publish reaches the TestConns and ServeEvents
// streams subscribed here, SendTo a TestConn by id. A plugin's WebSocket
// handlers are unit-tested through OpenTestConn.

// eventConn is unused natively: events come through TestConn.
var eventConn connOps

var memHub = struct {
	sync.Mutex
	next    int
	conns   map[string]*TestConn
	topics  map[string]map[chan<- string]bool // topic -> subscribed sinks
	lastMsg int
}{conns: map[string]*TestConn{}, topics: map[string]map[chan<- string]bool{}}

// TestConn is a client connection to the plugin's registered WebSocket
// handlers, natively: each of its calls runs one event, in line.
type TestConn struct {
	conn   *Conn
	mu     sync.Mutex
	inbox  []Message
	sink   chan string
	topics map[string]bool
	closed bool
	code   int
	reason string
}

// OpenTestConn runs the Open handler for the upgrade request r; its error
// is Open's refusal.
func OpenTestConn(r *http.Request) (*TestConn, error) {
	ws := registeredWS
	if ws == nil {
		return nil, errors.New("wasmhost: no WebSocket handler registered (sdk.HandleWebSocket)")
	}
	memHub.Lock()
	memHub.next++
	id := "native-" + strconv.Itoa(memHub.next)
	memHub.Unlock()
	tc := &TestConn{sink: make(chan string, 1024), topics: map[string]bool{}}
	tc.conn = &Conn{id: id, values: map[string]string{}, ops: tc}
	if ws.Open != nil {
		if err := ws.Open(tc.conn, r); err != nil {
			tc.unsubscribeAll()
			return nil, err
		}
	}
	memHub.Lock()
	memHub.conns[id] = tc
	memHub.Unlock()
	return tc, nil
}

// ID is the connection's id.
func (tc *TestConn) ID() string { return tc.conn.id }

// Send delivers a text message from the client: one Message event.
func (tc *TestConn) Send(data []byte) { tc.message(Message{Data: data}) }

// SendBinary delivers a binary message from the client.
func (tc *TestConn) SendBinary(data []byte) { tc.message(Message{Data: data, Binary: true}) }

func (tc *TestConn) message(m Message) {
	if ws := registeredWS; ws != nil && ws.Message != nil && !tc.isClosed() {
		ws.Message(tc.conn, m)
	}
}

// Received returns the messages sent to the client so far (by the
// handlers, Publish or SendTo) and forgets them.
func (tc *TestConn) Received() []Message {
	tc.drain()
	tc.mu.Lock()
	defer tc.mu.Unlock()
	in := tc.inbox
	tc.inbox = nil
	return in
}

func (tc *TestConn) drain() {
	for {
		select {
		case s := <-tc.sink:
			tc.mu.Lock()
			tc.inbox = append(tc.inbox, Message{Data: []byte(s)})
			tc.mu.Unlock()
		default:
			return
		}
	}
}

// CloseFromClient closes the connection as a client would: the Close
// event runs with code and reason.
func (tc *TestConn) CloseFromClient(code int, reason string) {
	if tc.isClosed() {
		return
	}
	tc.finish(code, reason)
	if ws := registeredWS; ws != nil && ws.Close != nil {
		ws.Close(tc.conn, code, reason)
	}
}

// Closed reports whether the connection is closed and with what.
func (tc *TestConn) Closed() (code int, reason string, closed bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.code, tc.reason, tc.closed
}

func (tc *TestConn) isClosed() bool { _, _, c := tc.Closed(); return c }

func (tc *TestConn) finish(code int, reason string) {
	tc.mu.Lock()
	tc.closed, tc.code, tc.reason = true, code, reason
	tc.mu.Unlock()
	tc.unsubscribeAll()
	memHub.Lock()
	delete(memHub.conns, tc.conn.id)
	memHub.Unlock()
}

func (tc *TestConn) unsubscribeAll() {
	for t := range tc.topics {
		tc.unsubscribe(t)
	}
}

func (tc *TestConn) send(data []byte, binary bool) error {
	if tc.isClosed() {
		return errors.New("wasmhost: " + abi.ErrnoString(abi.ErrClosed))
	}
	tc.drain()
	tc.mu.Lock()
	tc.inbox = append(tc.inbox, Message{Data: append([]byte(nil), data...), Binary: binary})
	tc.mu.Unlock()
	return nil
}

func (tc *TestConn) set(key, value string) error {
	if key == "" {
		return errors.New("wasmhost: an empty connection value key")
	}
	size := 0
	for k, v := range tc.conn.values {
		if k != key {
			size += len(k) + len(v)
		}
	}
	if value != "" {
		size += len(key) + len(value)
	}
	if size > abi.MaxConnValueBytes {
		return fmt.Errorf("wasmhost: connection values over %d bytes", abi.MaxConnValueBytes)
	}
	return nil
}

func (tc *TestConn) close(code int, reason string) error {
	if code != 1000 && (code < 3000 || code > 4999) || len(reason) > 123 {
		return errors.New("wasmhost: " + abi.ErrnoString(abi.ErrInvalid))
	}
	tc.finish(code, reason)
	return nil
}

func validTopic(t string) error {
	if t == "" || len(t) > abi.MaxTopicBytes {
		return fmt.Errorf("wasmhost: invalid topic %q", t)
	}
	return nil
}

func (tc *TestConn) subscribe(topic string) error {
	if err := validTopic(topic); err != nil {
		return err
	}
	tc.topics[topic] = true
	subscribeSink(topic, tc.sink)
	return nil
}

func (tc *TestConn) unsubscribe(topic string) error {
	delete(tc.topics, topic)
	memHub.Lock()
	delete(memHub.topics[topic], tc.sink)
	memHub.Unlock()
	return nil
}

func subscribeSink(topic string, sink chan<- string) {
	memHub.Lock()
	if memHub.topics[topic] == nil {
		memHub.topics[topic] = map[chan<- string]bool{}
	}
	memHub.topics[topic][sink] = true
	memHub.Unlock()
}

func publish(topic string, data []byte) error {
	if err := validTopic(topic); err != nil {
		return err
	}
	memHub.Lock()
	defer memHub.Unlock()
	for sink := range memHub.topics[topic] {
		select {
		case sink <- string(data):
		default: // a test that never reads: drop, as a full send_buffer would close
		}
	}
	return nil
}

func sendTo(id string, data []byte) error {
	memHub.Lock()
	tc := memHub.conns[id]
	memHub.Unlock()
	if tc == nil {
		return fmt.Errorf("%w (no connection %q)", ErrNotFound, id)
	}
	return tc.send(data, false)
}

// serveEvents natively writes the stream itself until the client leaves.
func serveEvents(w http.ResponseWriter, r *http.Request, topics []string) error {
	sink := make(chan string, 64)
	for _, t := range topics {
		if err := validTopic(t); err != nil {
			return err
		}
	}
	for _, t := range topics {
		subscribeSink(t, sink)
	}
	defer func() {
		memHub.Lock()
		for _, t := range topics {
			delete(memHub.topics[t], sink)
		}
		memHub.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	flush()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case data := <-sink:
			memHub.Lock()
			memHub.lastMsg++
			id := memHub.lastMsg
			memHub.Unlock()
			fmt.Fprintf(w, "id: %d\n", id)
			for _, line := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n") {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			fmt.Fprint(w, "\n")
			flush()
		}
	}
}

package sdk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wasmhost/wasmhost/abi"
)

// WebSocket is a plugin's WebSocket service. The host holds every
// connection; the plugin runs once per event of one, in any instance of
// its pool, and keeps nothing between events but what the connection
// carries (Conn.Set). Events of one connection come in order and one at a
// time; events of different connections run in parallel.
type WebSocket struct {
	// Open runs for an upgrade request to the plugin's mount. An error
	// refuses it with 403 and the error's text; nil accepts it.
	Open func(c *Conn, r *http.Request) error
	// Message runs for each message the client sends.
	Message func(c *Conn, m Message)
	// Close runs once the connection is closed, by either side. code is
	// 1005 when the client sent none, 1006 when it vanished.
	Close func(c *Conn, code int, reason string)
}

// Message is one WebSocket message from a client.
type Message struct {
	Data   []byte
	Binary bool
}

var registeredWS *WebSocket

// HandleWebSocket registers the plugin's WebSocket service; call it in
// init, beside Handle (plain HTTP on the same mount still goes there).
func HandleWebSocket(ws WebSocket) { registeredWS = &ws }

// ErrHandedOver is what writing to a response returns after ServeEvents
// handed it to the host.
var ErrHandedOver = errors.New("wasmhost: the response was handed to the host (ServeEvents)")

var errNotHostWriter = errors.New("wasmhost: ServeEvents needs the handler's own ResponseWriter (or one with an Unwrap method leading to it)")

var errWritten = errors.New("wasmhost: ServeEvents after the response was started")

// handOver marks the response as the host's: the SDK writes nothing more.
func (w *responseWriter) handOver() { w.err = ErrHandedOver }

// connOps are the calls on the connection of the event being served: the
// host's imports in a plugin, the in-memory hub natively.
type connOps interface {
	send(data []byte, binary bool) error
	set(key, value string) error
	close(code int, reason string) error
	subscribe(topic string) error
	unsubscribe(topic string) error
}

// Conn is a WebSocket connection held by the host, as one event sees it.
// Do not keep it past the event: the next event gets a Conn of its own.
type Conn struct {
	id     string
	values map[string]string
	ops    connOps
}

// ID is the connection's id, unique across workers and hosts; SendTo
// reaches it from any handler.
func (c *Conn) ID() string { return c.id }

// Get returns a value set with Set in this or an earlier event.
func (c *Conn) Get(key string) string { return c.values[key] }

// Set keeps a value with the connection (4 KiB of keys and values in all);
// an empty value removes the key.
func (c *Conn) Set(key, value string) error {
	if err := c.ops.set(key, value); err != nil {
		return err
	}
	if value == "" {
		delete(c.values, key)
	} else {
		c.values[key] = value
	}
	return nil
}

// Subscribe delivers every message published to topic to this connection,
// from now until it closes or unsubscribes.
func (c *Conn) Subscribe(topic string) error { return c.ops.subscribe(topic) }

// Unsubscribe undoes Subscribe.
func (c *Conn) Unsubscribe(topic string) error { return c.ops.unsubscribe(topic) }

// Send queues a text message to the client. A client that stops reading
// past its send_buffer is closed (1008), and Send returns an error.
func (c *Conn) Send(data []byte) error { return c.ops.send(data, false) }

// SendBinary queues a binary message to the client.
func (c *Conn) SendBinary(data []byte) error { return c.ops.send(data, true) }

// Close closes the connection with code (1000, or 3000..4999) after the
// messages queued before it.
func (c *Conn) Close(code int, reason string) error { return c.ops.close(code, reason) }

// Publish sends data as a text message to every connection and event
// stream subscribed to topic, on every worker (every host with a redis
// pubsub backend). It needs the plugin's pubsub grant.
func Publish(topic string, data []byte) error { return publish(topic, data) }

// SendTo sends data as a text message to the connection with that id,
// wherever it lives.
func SendTo(id string, data []byte) error { return sendTo(id, data) }

// ServeEvents hands the response to the host as a server-sent event
// stream of the topics: the host keeps it open and writes each message
// published to them as an event, and the instance goes back to the pool
// when the handler returns. w must be the ResponseWriter the handler got
// (or one that unwraps to it), with nothing written yet.
func ServeEvents(w http.ResponseWriter, r *http.Request, topics ...string) error {
	if len(topics) == 0 {
		return errors.New("wasmhost: ServeEvents needs at least one topic")
	}
	return serveEvents(w, r, topics)
}

// hostWriter finds the SDK's own writer under middleware wrappers that
// follow net/http's Unwrap convention.
func hostWriter(w http.ResponseWriter) *responseWriter {
	for i := 0; i < 16; i++ {
		if rw, ok := w.(*responseWriter); ok {
			return rw
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// event is one connection event as the environ describes it.
type event struct {
	kind, id, msgType, reason string
	code                      int
	values                    map[string]string
	env                       map[string]string // the upgrade request's own entries
}

func parseEvent(env []byte) (event, bool) {
	ev := event{values: map[string]string{}, env: map[string]string{}}
	for len(env) > 0 {
		k, v, rest, ok := abi.NextPair(env)
		if !ok {
			return ev, false
		}
		env = rest
		key, val := string(k), string(v)
		switch {
		case key == abi.KeyEvent:
			ev.kind = val
		case key == abi.KeyConnID:
			ev.id = val
		case key == abi.KeyMessageType:
			ev.msgType = val
		case key == abi.KeyCloseCode:
			ev.code, _ = strconv.Atoi(val)
		case key == abi.KeyCloseReason:
			ev.reason = val
		case strings.HasPrefix(key, abi.KeyConnValuePrefix):
			ev.values[key[len(abi.KeyConnValuePrefix):]] = val
		default:
			ev.env[key] = val
		}
	}
	return ev, true
}

// upgradeRequest rebuilds the upgrade request from its environ, for Open.
func upgradeRequest(env map[string]string) *http.Request {
	r := &http.Request{
		Method:     env[abi.KeyRequestMethod],
		Proto:      env[abi.KeyServerProtocol],
		Header:     http.Header{},
		Host:       env["HTTP_HOST"],
		RequestURI: env[abi.KeyRequestURI],
		RemoteAddr: net.JoinHostPort(env[abi.KeyRemoteAddr], env[abi.KeyRemotePort]),
		Body:       http.NoBody,
	}
	r.ProtoMajor, r.ProtoMinor, _ = http.ParseHTTPVersion(r.Proto)
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		r.URL = u
	} else {
		r.URL = &url.URL{Path: env[abi.KeyScriptName] + env[abi.KeyPathInfo], RawQuery: env[abi.KeyQueryString]}
	}
	for k, v := range env {
		if strings.HasPrefix(k, abi.HeaderPrefix) && k != "HTTP_HOST" {
			r.Header[headerName(k[len(abi.HeaderPrefix):])] = []string{v}
		}
	}
	return r.WithContext(withEnviron(r.Context(), env))
}

// serveEvent runs one connection event: wasmhost_handle with FlagEvent.
func serveEvent(h host, ops connOps, environSize int32) (result int32) {
	raw, ok := readEnviron(h, environSize)
	if !ok {
		h.log(abi.LogError, "sdk: could not read the event environ")
		return abi.HandleFailed
	}
	ev, ok := parseEvent(raw)
	if !ok {
		h.log(abi.LogError, "sdk: malformed event environ")
		return abi.HandleFailed
	}
	ws := registeredWS
	defer func() {
		if v := recover(); v != nil {
			reportPanic(v)
			result = abi.HandleFailed
		}
	}()
	c := &Conn{id: ev.id, values: ev.values, ops: ops}
	switch ev.kind {
	case abi.EventOpen:
		if ws == nil {
			refuse(h, http.StatusNotImplemented, "wasmhost: this plugin registered no WebSocket handler (sdk.HandleWebSocket)\n")
			return abi.HandleOK
		}
		if ws.Open != nil {
			if err := ws.Open(c, upgradeRequest(ev.env)); err != nil {
				refuse(h, http.StatusForbidden, err.Error()+"\n")
			}
		}
	case abi.EventMessage:
		if ws != nil && ws.Message != nil {
			ws.Message(c, Message{Data: readEventBody(h), Binary: ev.msgType == "binary"})
		}
	case abi.EventClose:
		if ws != nil && ws.Close != nil {
			ws.Close(c, ev.code, ev.reason)
		}
	default:
		h.log(abi.LogError, "sdk: unknown event "+strconv.Quote(ev.kind))
		return abi.HandleFailed
	}
	return abi.HandleOK
}

// refuse answers an open event with a response instead of the upgrade.
func refuse(h host, status int, text string) {
	hdr := abi.AppendPair(nil, "Content-Type", "text/plain; charset=utf-8")
	hdr = abi.AppendPair(hdr, "Content-Length", strconv.Itoa(len(text)))
	if h.startResponse(int32(status), hdr) == 0 {
		h.bodyWrite([]byte(text))
	}
}

// readEventBody reads a message event's data; the host bounds it by the
// plugin's max_message_size.
func readEventBody(h host) []byte {
	var data []byte
	buf := make([]byte, 16<<10)
	for {
		n := h.bodyRead(buf)
		if n <= 0 {
			return data
		}
		data = append(data, buf[:n]...)
	}
}

// withEnviron gives Environ(r) the upgrade request's environ in an event.
func withEnviron(ctx context.Context, env map[string]string) context.Context {
	ec := &environContext{Context: ctx, env: env}
	ec.once.Do(func() {}) // built already
	return ec
}

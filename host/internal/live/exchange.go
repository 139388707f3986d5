package live

import (
	"context"
	"errors"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/loader"
)

// eventExchange is one event as the guest sees it (loader.Exchange and
// loader.RealtimeExchange): the environ, the message as the body, and in
// an open event a response that refuses the upgrade.
type eventExchange struct {
	p     *Plugin
	src   *sourceBox
	conn  *realtime.Conn
	event string
	data  []byte // a message's data, read by body_read
	read  int
	base  []byte // the upgrade request's environ
	extra []byte // the event's own keys
	env   []byte

	status int32
	header []byte
	body   []byte
}

func (ex *eventExchange) Environ() []byte { return ex.env }

func (ex *eventExchange) ReadBody(p []byte) int32 {
	n := copy(p, ex.data[ex.read:])
	ex.read += n
	return int32(n)
}

// StartResponse is allowed in an open event only: it refuses the upgrade.
func (ex *eventExchange) StartResponse(status int32, headers []byte) int32 {
	if ex.event != abi.EventOpen || ex.status != 0 {
		return abi.ErrState
	}
	if status < 200 || status > 599 {
		return abi.ErrInvalid
	}
	ex.status, ex.header = status, append([]byte(nil), headers...)
	return 0
}

// maxRefusalBody bounds the body of a refused upgrade the host keeps.
const maxRefusalBody = 64 << 10

func (ex *eventExchange) WriteBody(p []byte) int32 {
	if ex.status == 0 {
		return abi.ErrState
	}
	if len(ex.body)+len(p) > maxRefusalBody {
		return abi.ErrLength
	}
	ex.body = append(ex.body, p...)
	return int32(len(p))
}

func (ex *eventExchange) Flush() int32 {
	if ex.status == 0 {
		return abi.ErrState
	}
	return 0
}

func (ex *eventExchange) Log(rec loader.Record) {
	ex.src.Log().Log(rec.Level, rec.Message, append(rec.Fields, "conn_id", ex.conn.ID(), "event", ex.event)...)
}

func (ex *eventExchange) StaticURL(path string) string { return ex.src.StaticURL(path) }

func (ex *eventExchange) Conn() loader.EventConn { return connCalls{ex.conn} }

func (ex *eventExchange) Pubsub() loader.Pubsub { return ex.p.Pubsub() }

func (ex *eventExchange) ServeEvents([]string) int32 { return abi.ErrState }

// errno is an error that gives the guest an abi.Err* code.
type errno struct {
	code int32
	err  error
}

func (e errno) Error() string { return e.err.Error() }
func (e errno) Errno() int32  { return e.code }
func (e errno) Unwrap() error { return e.err }

// coded maps the realtime package's errors to the ABI's codes.
func coded(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, realtime.ErrSendBuffer), errors.Is(err, realtime.ErrValues):
		return errno{abi.ErrTooLarge, err}
	case errors.Is(err, realtime.ErrClosed):
		return errno{abi.ErrClosed, err}
	case errors.Is(err, realtime.ErrNoConnection):
		return errno{abi.ErrNotFound, err}
	case errors.Is(err, realtime.ErrTopic), errors.Is(err, realtime.ErrTooManyTopics), errors.Is(err, realtime.ErrNotText):
		return errno{abi.ErrInvalid, err}
	}
	return err
}

// connCalls are a connection's calls as the loader makes them.
type connCalls struct{ c *realtime.Conn }

func (c connCalls) Send(data []byte, binary bool) error { return coded(c.c.Send(data, binary)) }
func (c connCalls) Set(key, value string) error         { return coded(c.c.Set(key, value)) }
func (c connCalls) Close(code int, reason string)       { c.c.Close(code, reason) }
func (c connCalls) Subscribe(topic string) error        { return coded(c.c.Subscribe(topic)) }
func (c connCalls) Unsubscribe(topic string)            { c.c.Unsubscribe(topic) }

// hubCalls are a hub's calls as the loader makes them.
type hubCalls struct{ h *realtime.Hub }

func (h hubCalls) Publish(ctx context.Context, topic string, data []byte) error {
	return coded(h.h.Publish(ctx, topic, data))
}

func (h hubCalls) SendTo(ctx context.Context, id string, data []byte) error {
	return coded(h.h.SendTo(ctx, id, data))
}

// Pubsub is the plugin's hub as the loader calls it, nil without a grant.
func (p *Plugin) Pubsub() loader.Pubsub {
	if p == nil || p.hub == nil {
		return nil
	}
	return hubCalls{p.hub}
}

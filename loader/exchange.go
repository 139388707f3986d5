package loader

import (
	"context"

	"github.com/hashicorp/go-hclog"
)

// Exchange is one request as a guest sees it, implemented by the HTTP side.
// The loader's host functions call it with slices that alias guest memory:
// an implementation must not keep them after the call returns.
//
// Results follow the ABI: a count or 0, or a negative abi.Err* code. Each
// Exchange is used by one guest call at a time, so implementations need no
// locking for these methods.
type Exchange interface {
	// Environ returns the request's encoded environ (abi.AppendPair pairs).
	Environ() []byte
	// ReadBody reads the request body into p: n > 0, 0 at the end, or an errno.
	ReadBody(p []byte) int32
	// StartResponse sets the status and the encoded headers.
	StartResponse(status int32, headers []byte) int32
	// WriteBody appends p to the response body.
	WriteBody(p []byte) int32
	// Flush sends what was written so far.
	Flush() int32
	// Log records one message of the guest: from the log import, or a
	// line it wrote to stdout or stderr.
	Log(rec Record)
	// StaticURL returns the versioned URL of a file in the static folder.
	StaticURL(path string) string
}

// ChainExchange is an Exchange whose guest is a middleware: it can run the
// rest of its chain (the next_* host functions). An Exchange without it
// answers those calls with abi.ErrState.
type ChainExchange interface {
	Exchange
	// NextStart runs the rest of the chain with the request described by
	// req (abi pairs) and abi.Next* flags.
	NextStart(req []byte, flags uint32) int32
	// NextWait waits for the downstream's next event: an abi.Event* value
	// and its size, or a negative errno.
	NextWait() (event int32, size uint32)
	// NextRead copies the current event's payload into p, from where the
	// last call stopped: the count, 0 at its end.
	NextRead(p []byte) int32
	// NextBody answers abi.EventBodyWanted with p, or with errno when it
	// is negative (p is then empty).
	NextBody(p []byte, errno int32) int32
}

// CookieExchange is an Exchange that can sign and verify cookie values
// and give the request's XSRF token; the secret stays on its side. An
// Exchange without it answers those calls with abi.ErrUnavailable.
type CookieExchange interface {
	SignCookie(name, value string) (string, int32)
	VerifyCookie(name, signed string) (string, int32)
	XSRFToken() (string, int32)
}

// Record is one message of a guest as the host logs it. The loader has
// read it already: a line's level word, a structured message's JSON (see
// the log import in package abi), and the bound of abi.MaxLogBytes on
// what it took from the guest.
type Record struct {
	Level hclog.Level
	// Message is the message: a structured one's "msg" member, or the
	// guest's text as it came (also a structured message that does not
	// parse).
	Message string
	// Fields are a structured message's other members, key and value in
	// turn, in the guest's order; objects and arrays are JSON text.
	Fields []any
}

// RealtimeExchange is an Exchange of a plugin that holds WebSocket
// connections or is granted a pubsub block (the realtime host functions).
// The loader checks the ABI's bounds (topic and reason sizes, close codes,
// message sizes) before calling it; the results are abi.Err* codes. An
// Exchange without it answers conn_* with abi.ErrState, pubsub_* and
// serve_events with abi.ErrDenied.
type RealtimeExchange interface {
	// Conn is the connection of the event the call is; nil for an HTTP
	// request (conn_* then answer abi.ErrState).
	Conn() EventConn
	// Pubsub is the plugin's granted pubsub block; nil without a grant.
	Pubsub() Pubsub
	// ServeEvents hands the response to the host as an event stream of
	// topics once the guest returns: 0, or abi.ErrState after
	// start_response or in an event.
	ServeEvents(topics []string) int32
}

// EventConn is the connection of one event. Its errors that have an
// Errno() int32 method give the guest that code.
type EventConn interface {
	Send(data []byte, binary bool) error
	Set(key, value string) error
	Close(code int, reason string)
	Subscribe(topic string) error
	Unsubscribe(topic string)
}

// Pubsub is a pubsub block's topics. An error with an Errno() int32
// method gives the guest that code; any other is abi.ErrService, its
// message held for result_get.
type Pubsub interface {
	Publish(ctx context.Context, topic string, data []byte) error
	SendTo(ctx context.Context, id string, data []byte) error
}

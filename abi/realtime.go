package abi

// Realtime (since 1.4): WebSocket connections and topics held by the host.
//
// The host terminates a WebSocket and keeps it open; the guest runs once per
// event of the connection (open, message, close), each a call of
// ExportHandle with FlagEvent set, in any instance of the plugin's pool. The
// environ of an event is the upgrade request's environ plus KeyEvent,
// KeyConnID and one KeyConnValuePrefix+key pair per value the connection
// carries; a message event adds KeyMessageType and its data is the request
// body (body_read); a close event adds KeyCloseCode and KeyCloseReason.
//
// An open event accepts the connection unless the guest calls
// start_response: then the upgrade is refused with that response (the SDK
// answers 403 when Open returns an error). In message and close events
// start_response is ErrState.
//
// Topics live in the one pubsub block the plugin is granted (pubsub = [...]
// in site.hcl): pubsub_publish reaches every connection and event stream
// subscribed to the topic on every worker (and, with backend = "redis",
// every host); pubsub_send_to reaches one connection by its id, wherever it
// lives. Both work from any call of ExportHandle, HTTP requests included.

// FlagEvent is set in ExportHandle's flags when the call is a connection
// event rather than an HTTP request.
const FlagEvent = 1 << 1

// Environ keys of an event.
const (
	KeyEvent           = "wasmhost.event"        // EventOpen, EventMessage or EventClose
	KeyConnID          = "wasmhost.conn_id"      // unique across workers and hosts
	KeyConnValuePrefix = "wasmhost.conn."        // + key: a value set with conn_set
	KeyMessageType     = "wasmhost.message_type" // "text" or "binary"
	KeyCloseCode       = "wasmhost.close_code"   // decimal; 1005 when the peer sent none
	KeyCloseReason     = "wasmhost.close_reason"
)

// Values of KeyEvent.
const (
	EventOpen    = "open"
	EventMessage = "message"
	EventClose   = "close"
)

const (
	// ImportConnSend: (buf i32, len i32, flags i32) -> i32.
	// Queues a message to the current event's connection: text, or binary
	// with ConnBinary. Returns 0; ErrClosed when the connection is closing;
	// ErrTooLarge past its send_buffer (the host then closes it with 1008);
	// ErrState outside an event. len is at most MaxWriteBytes.
	ImportConnSend = "conn_send"

	// ImportConnSet: (key i32, key_len i32, val i32, val_len i32) -> i32.
	// Sets a value the host keeps with the current connection and hands to
	// each later event in the environ; an empty val removes the key.
	// ErrTooLarge when the connection's keys and values would pass
	// MaxConnValueBytes in all; ErrState outside an event.
	ImportConnSet = "conn_set"

	// ImportConnClose: (code i32, reason i32, reason_len i32) -> i32.
	// Closes the current connection with code (1000, or 3000..4999) after
	// the messages queued before it. ErrInvalid for another code or a reason
	// over 123 bytes; ErrState outside an event.
	ImportConnClose = "conn_close"

	// ImportConnSubscribe: (topic i32, topic_len i32) -> i32.
	// Subscribes the current connection to topic. ErrDenied without a
	// pubsub grant; ErrInvalid for an empty topic or one over MaxTopicBytes;
	// ErrState outside an event.
	ImportConnSubscribe = "conn_subscribe"

	// ImportConnUnsubscribe: (topic i32, topic_len i32) -> i32. As above; 0
	// also when the connection was not subscribed.
	ImportConnUnsubscribe = "conn_unsubscribe"

	// ImportPubsubPublish: (topic i32, topic_len i32, data i32, data_len i32) -> i32.
	// Publishes data (a text message) to topic. Returns 0; ErrDenied
	// without a pubsub grant; ErrInvalid for a bad topic; ErrService when
	// the backend failed (result_get says how). data_len is at most
	// MaxPublishBytes.
	ImportPubsubPublish = "pubsub_publish"

	// ImportPubsubSendTo: (id i32, id_len i32, data i32, data_len i32) -> i32.
	// Sends data (a text message) to the connection with that id. Returns
	// 0; ErrNotFound when the id is of this worker and no such connection is
	// open (a connection elsewhere is sent to without an answer); ErrDenied,
	// ErrInvalid, ErrService as pubsub_publish.
	ImportPubsubSendTo = "pubsub_send_to"

	// ImportServeEvents: (topics i32, topics_len i32) -> i32.
	// Hands the response of the current HTTP request to the host as a
	// server-sent event stream of the topics (AppendString each). The guest
	// must not have called start_response and must not write after it; it
	// returns from ExportHandle at once and the instance goes back to the
	// pool while the host keeps the stream open. Returns 0; ErrState after
	// start_response or in an event; ErrDenied without a pubsub grant;
	// ErrInvalid for a bad topic list.
	ImportServeEvents = "serve_events"
)

// Flags of conn_send.
const ConnBinary = 1 << 0

// Limits of the realtime calls.
const (
	MaxConnValueBytes = 4096    // a connection's keys and values together
	MaxTopicBytes     = 256     // one topic name
	MaxServeTopics    = 64      // topics of one serve_events
	MaxPublishBytes   = 1 << 20 // one published or sent message
)

package abi

// Middleware (since 1.2). A middleware plugin wraps the rest of a chain the
// way a WSGI middleware wraps an application: it receives the request like
// any plugin, may change it, hands it on with ImportNextStart, and then
// receives the downstream's response one event at a time from
// ImportNextWait, passing on (or changing) what it likes through its own
// start_response / body_write / body_flush. The downstream runs in its own
// instance of its own plugin while the middleware's guest waits in
// ImportNextWait; nothing of the response is ever held whole.

// ExportKind (optional): () -> i32. Returns KindHandler or KindMiddleware,
// called once after initialization. A module without it is a handler: that
// is what every module built before 1.2 is.
const ExportKind = "wasmhost_kind"

// Kinds returned by ExportKind.
const (
	KindHandler    = 0
	KindMiddleware = 1
)

const (
	// ImportNextStart: (req i32, req_len i32, flags i32) -> i32.
	// Starts the rest of the chain with the request as the middleware has
	// it now. req is a sequence of pairs (AppendPair): first the pseudo
	// headers NextMethod, NextPath, NextQuery, NextHost and, when known,
	// NextContentLength, then every request header (name, value; a name may
	// repeat). flags are Next* bits. Returns 0, ErrState when called twice
	// or outside a request, or ErrInvalid for a malformed request.
	// req_len is at most MaxHeaderBytes.
	ImportNextStart = "next_start"

	// ImportNextWait: (size_ptr i32) -> i32 event.
	// Blocks until the downstream has something for the middleware and
	// returns it as an Event* value, with the event's size stored at
	// size_ptr as a little-endian u32: the payload's length for EventHead
	// and EventBody (read it with ImportNextRead), the most bytes the
	// downstream can take for EventBodyWanted (answer with ImportNextBody).
	// Calling it again means the middleware is done with the last event.
	// Returns a negative Errno instead: ErrDownstream when the downstream
	// failed after its response head (the response is broken; stop),
	// ErrClosed when the request ended (client gone, deadline), ErrState
	// before ImportNextStart or after EventDone.
	ImportNextWait = "next_wait"

	// ImportNextRead: (buf i32, buf_len i32) -> i32 n.
	// Copies up to buf_len bytes of the current event's payload into buf,
	// continuing where the last call stopped; 0 when it is all read. The
	// payload of EventHead is pairs: NextStatus then the response headers.
	ImportNextRead = "next_read"

	// ImportNextBody: (buf i32, len i32) -> i32.
	// Answers EventBodyWanted with the next len bytes of the body the
	// middleware gives the downstream (NextOwnBody): len 0 is the end of
	// the body, a negative len an Errno the downstream's read reports
	// (ErrIO, ErrBodyTooLarge). len is at most the size next_wait gave.
	// Returns 0, ErrState when no body was asked for, or ErrInvalid.
	ImportNextBody = "next_body"

	// ImportCookieSign: (name i32, name_len i32, value i32, value_len i32, buf i32, buf_len i32) -> i32 size.
	// Signs and timestamps value for the cookie name with the site's
	// cookie_secret, which stays in the host. Copies the signed value into
	// buf if it fits and returns its size either way (like environ_get);
	// ErrUnavailable when the site has no cookie_secret. name_len and
	// value_len are at most MaxCookieBytes.
	ImportCookieSign = "cookie_sign"

	// ImportCookieVerify: (name i32, name_len i32, signed i32, signed_len i32, buf i32, buf_len i32) -> i32 size.
	// Checks a value made by ImportCookieSign for the cookie name: the
	// signature (current or previous secret, in constant time) and its age
	// (cookie_max_age). Copies the original value into buf if it fits and
	// returns its size; ErrInvalid when forged, malformed or expired;
	// ErrUnavailable without a cookie_secret.
	ImportCookieVerify = "cookie_verify"

	// ImportXSRFToken: (buf i32, buf_len i32) -> i32 size.
	// The request's XSRF token, for a form's hidden "_xsrf" field, when the
	// request went through the built-in "xsrf" middleware; ErrUnavailable
	// otherwise. Copies it into buf if it fits; returns its size.
	ImportXSRFToken = "xsrf_token"
)

// Flags of ImportNextStart.
const (
	// NextHasBody: the downstream's request may carry a body.
	NextHasBody = 1 << 0
	// NextOwnBody: the middleware supplies the body itself (it replaced
	// r.Body): the host asks for it with EventBodyWanted. Without it the
	// downstream reads the middleware's own request body, straight from the
	// host, as far as the middleware has not read it.
	NextOwnBody = 1 << 1
)

// Events returned by ImportNextWait.
const (
	EventBodyWanted = 1 // the downstream reads the body the middleware supplies
	EventHead       = 2 // the downstream's status and headers
	EventBody       = 3 // a piece of the downstream's response body
	EventFlush      = 4 // the downstream flushed: pass it on now
	EventDone       = 5 // the downstream finished its response
)

// Pseudo headers in ImportNextStart's request and EventHead's payload.
const (
	NextMethod        = ":method"
	NextPath          = ":path" // PATH_INFO as the downstream will see it
	NextQuery         = ":query"
	NextHost          = ":host"
	NextContentLength = ":content_length"
	NextStatus        = ":status"
)

// MaxCookieBytes bounds a cookie name or value given to the cookie
// functions: browsers keep about 4 KiB per cookie.
const MaxCookieBytes = 8 << 10

package abi

// Guest services (since ABI 1.2): key-value stores and outbound HTTP.
//
// Both are handle-based. A handle is a positive i32 the host gives out and
// the guest passes back; it is only meaningful to the instance that got it.
// A store handle (kv_open) lasts as long as the instance. An outbound
// request handle (http_request) lasts until http_close or the end of the
// request being served, whichever comes first: an outbound request never
// outlives the inbound one.
//
// Results that the guest cannot size in advance (a value, a key list, a
// response head, an error message) follow environ_get's rule: the host
// copies the result into the guest's buffer when it fits and returns its
// size either way. When it did not fit, the host holds the result and the
// guest fetches it with result_get into a buffer of that size, so a value is
// never read twice from the store. A call that fails with ErrDenied,
// ErrNotFound... leaves a message explaining the failure to result_get too.
const (
	// ImportResultGet: (buf i32, buf_len i32) -> i32 size.
	// Copies the result held by the last services call (a result larger
	// than its buffer, or the message of its error) into buf if it fits,
	// and returns its size either way; 0 when nothing is held.
	ImportResultGet = "result_get"

	// ImportKVOpen: (name i32, name_len i32) -> i32 handle.
	// Opens the store declared by kv "name" {} in site.hcl and granted to
	// this plugin; ErrDenied otherwise. name_len is at most MaxKVKeyBytes.
	ImportKVOpen = "kv_open"

	// ImportKVGet: (store i32, key i32, key_len i32, buf i32, buf_len i32) -> i32 size.
	// The value of key (copied into buf when it fits; see result_get), or
	// ErrNotFound when the key is absent.
	ImportKVGet = "kv_get"

	// ImportKVSet: (store i32, key i32, key_len i32, val i32, val_len i32) -> i32.
	// Stores val under key. Returns 0, or ErrTooLarge for a key over
	// MaxKVKeyBytes or a value over MaxKVValueBytes.
	ImportKVSet = "kv_set"

	// ImportKVDelete: (store i32, key i32, key_len i32) -> i32.
	// Removes key; 0 also when it was absent.
	ImportKVDelete = "kv_delete"

	// ImportKVExists: (store i32, key i32, key_len i32) -> i32.
	// 1 when key is present, 0 when not.
	ImportKVExists = "kv_exists"

	// ImportKVKeys: (store i32, prefix i32, prefix_len i32, buf i32, buf_len i32) -> i32 size.
	// The keys starting with prefix, sorted bytewise, each encoded as a
	// 4-byte little-endian length and the key (AppendString); see
	// result_get for a list larger than buf. At most MaxKVKeys keys: a
	// larger list is ErrTooLarge.
	ImportKVKeys = "kv_keys"

	// ImportKVIncrement: (store i32, key i32, key_len i32, delta i64, out i32) -> i32.
	// Adds delta to the decimal integer under key (absent counts as 0),
	// atomically across every instance, worker and host sharing the store,
	// and writes the new value at out as an 8-byte little-endian integer.
	// Returns 0, or ErrInvalid when the value is not an integer.
	ImportKVIncrement = "kv_increment"

	// ImportKVCompareAndSwap: (store i32, key i32, key_len i32, old i32, old_len i32,
	// new i32, new_len i32, flags i32) -> i32.
	// Sets key to new if its value is old, or, with KVOldAbsent in flags,
	// if key is absent (old is then ignored); atomically, like
	// kv_increment. Returns 1 when it swapped, 0 when not.
	ImportKVCompareAndSwap = "kv_cas"

	// ImportKVGetMany (since 1.3): (store i32, keys i32, keys_len i32, buf i32, buf_len i32) -> i32 size.
	// The values of several keys in one call (and one round trip to the
	// store): keys is a list encoded as kv_keys returns one (AppendString),
	// at most MaxKVGetManyKeys keys, each checked as kv_get checks its key.
	// The result is encoded as pairs (AppendPair): each key that is
	// present and its value, in the order asked, a key asked twice once;
	// absent keys are left out. Copied into buf when it fits, else held
	// (see result_get). ErrTooLarge when the values found add up to more
	// than MaxKVGetManyBytes; ErrInvalid for a malformed list or key.
	ImportKVGetMany = "kv_get_many"

	// ImportHTTPRequest: (head i32, head_len i32, flags i32) -> i32 handle.
	// Starts an outbound request. head is encoded as pairs (AppendPair):
	// ":method" and ":url" first, then the request headers. With
	// HTTPHasBody in flags the body follows through http_body_write and
	// ends with http_body_close; without it the request has none. Returns
	// ErrDenied when the plugin's allowed_hosts do not allow the URL
	// (result_get holds a message naming the destination), ErrBusy when
	// the plugin has too many requests in flight. head_len is at most
	// MaxHeaderBytes.
	ImportHTTPRequest = "http_request"

	// ImportHTTPBodyWrite: (req i32, buf i32, buf_len i32) -> i32.
	// Sends the next piece of the request body, blocking until the
	// connection has taken it (so a large upload holds one piece at a time).
	// Returns 0, or ErrClosed when the request failed (see http_response).
	ImportHTTPBodyWrite = "http_body_write"

	// ImportHTTPBodyClose: (req i32) -> i32.
	// Ends the request body.
	ImportHTTPBodyClose = "http_body_close"

	// ImportHTTPResponse: (req i32, buf i32, buf_len i32) -> i32 size.
	// Waits for the response head and returns it encoded as pairs:
	// ":status" then the response headers (see result_get when it does not
	// fit). Fails with ErrDenied when the connection was refused by the
	// sandbox (a name resolving to a private address), or ErrIO, each with
	// a message for result_get.
	ImportHTTPResponse = "http_response"

	// ImportHTTPBodyRead: (req i32, buf i32, buf_len i32) -> i32 n.
	// Reads the next piece of the response body: n > 0, 0 at its end, or
	// ErrIO / ErrClosed.
	ImportHTTPBodyRead = "http_body_read"

	// ImportHTTPClose: (req i32) -> i32.
	// Releases the request: its connection, and its place among the
	// plugin's requests in flight. A request not closed is closed when the
	// inbound request ends.
	ImportHTTPClose = "http_close"
)

// Flags of kv_cas.
const KVOldAbsent = 1 << 0

// Flags of http_request.
const HTTPHasBody = 1 << 0

// Errno values of the services calls.
const (
	ErrNotFound = -20 // kv_get: no such key
	ErrDenied   = -21 // a store not granted, a destination not allowed
	ErrTooLarge = -22 // a key, value or result over its limit
	ErrBusy     = -23 // too many outbound requests in flight
	ErrService  = -24 // the store or the upstream failed; result_get says how
	ErrHandle   = -25 // not a handle of this instance, or already closed
	ErrTimeout  = -26 // (1.3) the store did not answer within its timeout
)

// servicesErrnoString names the Errno values above.
func servicesErrnoString(e int32) (string, bool) {
	switch e {
	case ErrNotFound:
		return "not found", true
	case ErrDenied:
		return "not allowed", true
	case ErrTooLarge:
		return "too large", true
	case ErrBusy:
		return "too many requests in flight", true
	case ErrService:
		return "service failed", true
	case ErrHandle:
		return "invalid handle", true
	case ErrTimeout:
		return "timed out", true
	}
	return "", false
}

// Limits of the services calls.
const (
	MaxKVKeyBytes   = 1024
	MaxKVValueBytes = 1 << 20
	MaxKVKeys       = 10000
	// MaxKVGetManyKeys bounds the keys of one kv_get_many (1.3), and
	// MaxKVGetManyBytes the values it returns together.
	MaxKVGetManyKeys  = 1000
	MaxKVGetManyBytes = 16 << 20
	// MaxHTTPBodyChunk bounds one http_body_write or http_body_read.
	MaxHTTPBodyChunk = 1 << 20
)

// AppendString appends s as a 4-byte little-endian length and its bytes:
// one element of kv_keys's list.
func AppendString(buf []byte, s string) []byte {
	buf = appendU32(buf, uint32(len(s)))
	return append(buf, s...)
}

// NextString decodes the first element of buf and returns it with the rest.
func NextString(buf []byte) (s, rest []byte, ok bool) { return nextField(buf) }

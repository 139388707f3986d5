// Package abi is the contract between wasmhost and a plugin: the names of the
// functions each side exports to the other, the byte layout of what crosses
// the boundary, the error codes, and the version that ties them together.
//
// The model is a gateway interface in the tradition of CGI and WSGI (PEP 3333):
// for each request the host calls the guest's Handle export once; the guest
// pulls the request's environ (string keys and values) and, if it wants, the
// request body, and pushes back a status line with headers followed by the
// response body. Bodies stream in both directions: the guest reads the request
// body and writes the response body in pieces of its own choosing, and can ask
// for what it wrote so far to be sent to the client (a flush).
//
// Every call the guest makes goes "down" to the host through functions imported
// from the module named ImportModule; the guest never receives a pointer into
// host memory and the host never retains a pointer into guest memory beyond a
// single call. Buffers are always owned and allocated by the guest: the host
// only copies into or out of guest linear memory, within bounds it checks.
//
// This package has no dependencies so that guest SDKs (standard Go and TinyGo)
// and the host share one definition. docs/ABI.md is the prose version.
package abi

// Version of the ABI. A host accepts a module whose major version equals its
// own and whose minor version is not newer than its own: minor versions only
// add imports, so an older guest never imports something a newer host lacks.
const (
	VersionMajor = 1
	VersionMinor = 4
)

// PackVersion encodes a version the way ExportABIVersion returns it.
func PackVersion(major, minor uint16) uint32 { return uint32(major)<<16 | uint32(minor) }

// UnpackVersion is the inverse of PackVersion.
func UnpackVersion(v uint32) (major, minor uint16) { return uint16(v >> 16), uint16(v) }

// Version is this ABI's version, packed.
var Version = PackVersion(VersionMajor, VersionMinor)

// Exports a guest module must provide. All parameters and results are i32.
const (
	// ExportABIVersion: () -> i32. Returns PackVersion(major, minor) of the
	// ABI the guest was built against. Called once, after initialization.
	ExportABIVersion = "wasmhost_abi_version"

	// ExportHandle: (environ_size i32, flags i32) -> i32. Serves one request.
	// environ_size is the byte length of the encoded environ (so the guest can
	// size its buffer before calling ImportEnvironGet); flags is a set of
	// HandleFlag bits. Returns HandleOK, or HandleFailed when the handler
	// failed in a way the guest caught (a recovered panic): the host then
	// treats the request as failed and discards the instance.
	ExportHandle = "wasmhost_handle"

	// ExportInitialize is the WASI reactor initializer (standard Go and
	// TinyGo with -buildmode=c-shared). The host runs it once per instance.
	ExportInitialize = "_initialize"

	// ExportMemory is the linear memory all pointers refer to.
	ExportMemory = "memory"
)

// Flags passed to ExportHandle.
const (
	// FlagHasBody is set when the request may carry a body. When clear, the
	// body is known to be empty and the guest need not call ImportBodyRead.
	FlagHasBody = 1 << 0
)

// Results of ExportHandle.
const (
	HandleOK     = 0
	HandleFailed = 1
)

// ImportModule is the module name of the host functions below.
const ImportModule = "wasmhost"

// Host functions, imported from ImportModule. Pointers and lengths are i32
// offsets into the guest's exported memory. A pointer/length pair that does
// not lie within memory, or a length above the stated limit, is a guest bug:
// the host traps the call (the instance is discarded and the request fails).
// Other failures are reported as negative Errno results.
const (
	// ImportEnvironGet: (buf i32, buf_len i32) -> i32 size.
	// Copies the encoded environ (see AppendPair) into buf if it fits and
	// returns its size; if buf_len is too small nothing is copied and the
	// size is returned all the same, so the guest can grow buf and retry.
	ImportEnvironGet = "environ_get"

	// ImportBodyRead: (buf i32, buf_len i32) -> i32 n.
	// Reads up to buf_len bytes of the request body into buf, blocking until
	// at least one byte is available. Returns the count, 0 at the end of the
	// body, or a negative Errno (ErrBodyTooLarge, ErrIO, ErrClosed).
	ImportBodyRead = "body_read"

	// ImportStartResponse: (status i32, headers i32, headers_len i32) -> i32.
	// Sets the response status (200 to 999: informational 1xx responses are
	// not supported) and headers, encoded as pairs (AppendPair; a name may
	// repeat). May be called once per request; nothing is sent to the
	// client until the first flush, the body outgrows the host's buffer, or
	// the handler returns. Returns 0, ErrState if called
	// twice, or ErrInvalid for a bad status or a header name or value that
	// HTTP cannot carry (the guest may then call it again, corrected).
	// headers_len is at most MaxHeaderBytes.
	ImportStartResponse = "start_response"

	// ImportBodyWrite: (buf i32, buf_len i32) -> i32.
	// Appends buf to the response body. Returns 0, ErrState before
	// start_response, ErrLength if the body would exceed the Content-Length
	// the guest declared, or ErrClosed when the client has gone away (the
	// guest should stop producing output). buf_len is at most MaxWriteBytes.
	ImportBodyWrite = "body_write"

	// ImportBodyFlush: () -> i32.
	// Sends the status, headers and body written so far to the client now.
	// After a flush the response can no longer get a computed
	// Content-Length: HTTP/1.1 uses chunked encoding. Returns 0, ErrState
	// before start_response, or ErrClosed.
	ImportBodyFlush = "body_flush"

	// ImportLog: (level i32, msg i32, msg_len i32) -> ().
	// Writes one message to the host's log, attributed to the plugin and the
	// request. level is one of the Log* constants; msg_len is at most
	// MaxLogBytes (longer messages are truncated by the host, not trapped).
	// A guest's WASI stdout and stderr also go to the host log, line by line.
	ImportLog = "log"

	// ImportStaticURL (since 1.1): (path i32, path_len i32, buf i32, buf_len i32) -> i32 size.
	// Returns the URL of a file in the site's static folder, versioned by
	// its content (url_prefix + path + "?v=" + hash), as the host's own
	// static handler computes it. Copies the URL into buf if it fits and
	// returns its size either way (like environ_get). Outside a request it
	// returns ErrState. path_len is at most MaxStaticPathBytes.
	ImportStaticURL = "static_url"
)

// Imports lists every host function of this ABI version, for hosts that
// check a module's imports before instantiating it.
var Imports = []string{
	ImportEnvironGet, ImportBodyRead, ImportStartResponse,
	ImportBodyWrite, ImportBodyFlush, ImportLog, ImportStaticURL,
	ImportResultGet, ImportKVOpen, ImportKVGet, ImportKVSet, ImportKVDelete,
	ImportKVExists, ImportKVKeys, ImportKVIncrement, ImportKVCompareAndSwap,
	ImportHTTPRequest, ImportHTTPBodyWrite, ImportHTTPBodyClose,
	ImportHTTPResponse, ImportHTTPBodyRead, ImportHTTPClose,
	ImportNextStart, ImportNextWait, ImportNextRead, ImportNextBody,
	ImportCookieSign, ImportCookieVerify, ImportXSRFToken,
	ImportKVGetMany,
	ImportConnSend, ImportConnSet, ImportConnClose, ImportConnSubscribe,
	ImportConnUnsubscribe, ImportPubsubPublish, ImportPubsubSendTo, ImportServeEvents,
}

// Log levels for ImportLog.
const (
	LogDebug = 1
	LogInfo  = 2
	LogWarn  = 3
	LogError = 4
	// LogStructured, or-ed into the level, says the message is one JSON
	// object: "msg" is the message, every other member a field (a value
	// that is not a string, number or boolean is kept as JSON text). A host
	// that does not know the flag logs the JSON text at info level.
	LogStructured = 1 << 8
)

// Errno values returned (negated) by host functions.
const (
	ErrState        = -1 // call out of order (body_write before start_response, start_response twice)
	ErrInvalid      = -2 // malformed argument: bad status, header name or value
	ErrClosed       = -3 // the client went away or the request was cancelled
	ErrBodyTooLarge = -4 // the request body exceeds the server's max_body_size
	ErrIO           = -5 // the request body could not be read (e.g. malformed chunking)
	ErrLength       = -6 // writing more than the declared Content-Length
	ErrDownstream   = -7 // (1.2) the rest of the chain failed after its response began
	ErrUnavailable  = -8 // (1.2) the service is not configured (no cookie_secret, no xsrf middleware)
)

// ErrnoString names an Errno for messages.
func ErrnoString(e int32) string {
	switch e {
	case ErrState:
		return "call out of order"
	case ErrInvalid:
		return "invalid argument"
	case ErrClosed:
		return "connection closed"
	case ErrBodyTooLarge:
		return "request body too large"
	case ErrIO:
		return "request body read error"
	case ErrLength:
		return "body longer than its Content-Length"
	case ErrDownstream:
		return "the rest of the chain failed"
	case ErrUnavailable:
		return "not configured on this site"
	}
	if s, ok := servicesErrnoString(e); ok {
		return s
	}
	return "unknown error"
}

// Limits on what one host call may ask the host to hold. They bound the host
// memory a guest can make the host allocate; a call beyond them traps.
const (
	MaxHeaderBytes = 1 << 20 // encoded response headers in one start_response
	MaxWriteBytes  = 1 << 24 // one body_write; the SDK writes far less at a time
	MaxLogBytes    = 1 << 16 // one log message; longer ones are truncated

	MaxStaticPathBytes = 4096 // one static_url path
)

// AppendPair appends one key/value pair in the wire encoding shared by the
// environ and the response headers: the key's length as a 4-byte
// little-endian integer, the key, the value's length likewise, the value.
// Lengths instead of separators let keys and values hold any byte, NUL too.
func AppendPair(buf []byte, key, value string) []byte {
	buf = appendU32(buf, uint32(len(key)))
	buf = append(buf, key...)
	buf = appendU32(buf, uint32(len(value)))
	return append(buf, value...)
}

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// NextPair decodes the first pair in buf and returns it with the rest of buf.
// ok is false when buf is empty or malformed (a length past the end).
func NextPair(buf []byte) (key, value, rest []byte, ok bool) {
	key, buf, ok = nextField(buf)
	if !ok {
		return nil, nil, nil, false
	}
	value, buf, ok = nextField(buf)
	if !ok {
		return nil, nil, nil, false
	}
	return key, value, buf, true
}

func nextField(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
	b = b[4:]
	if n > uint64(len(b)) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}

// ValidPairs reports whether buf is a well-formed sequence of pairs.
func ValidPairs(buf []byte) bool {
	for len(buf) > 0 {
		var ok bool
		if _, _, buf, ok = NextPair(buf); !ok {
			return false
		}
	}
	return true
}

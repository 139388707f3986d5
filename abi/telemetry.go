package abi

// Telemetry (since 1.4): guest spans.
//
// The host traces every request (a server span, a child span per plugin call
// and per chain link) when the site's telemetry is on. A guest records spans
// of its own as children of its plugin call, or of another guest span it
// started; the host turns them into OpenTelemetry spans, so nothing of an
// OpenTelemetry SDK runs in the guest. The guest sees the trace it is part of
// in HTTP_TRACEPARENT (the host's span, W3C Trace Context) and KeyTraceID.
// When telemetry is off or the request is not sampled the calls still
// succeed and cost a host crossing each.

// KeyTraceID is the environ key of the request's trace id (32 hex digits),
// present when telemetry is on.
const KeyTraceID = "wasmhost.trace_id"

const (
	// ImportSpanStart: (parent i32, name i32, name_len i32) -> i32 span.
	// Starts a span named name under parent: 0 for the plugin call, or a
	// span this call of ExportHandle started. Returns a positive span
	// handle; ErrHandle for an unknown parent; ErrTooLarge past
	// MaxSpansPerCall spans in one call; ErrInvalid for an empty name or one
	// over MaxSpanNameBytes. Spans left open when ExportHandle returns are
	// ended then.
	ImportSpanStart = "span_start"

	// ImportSpanAttr: (span i32, key i32, key_len i32, val i32, val_len i32) -> i32.
	// Sets a string attribute on an open span. Returns 0; ErrHandle for a
	// span not open; ErrTooLarge past MaxSpanAttrs attributes on the span,
	// a key over MaxSpanNameBytes or a value over MaxSpanValueBytes.
	ImportSpanAttr = "span_attr"

	// ImportSpanEnd: (span i32) -> i32. Ends an open span (0), or ErrHandle.
	ImportSpanEnd = "span_end"
)

// Limits of the telemetry calls.
const (
	MaxSpansPerCall   = 64
	MaxSpanAttrs      = 32
	MaxSpanNameBytes  = 128
	MaxSpanValueBytes = 1024
)

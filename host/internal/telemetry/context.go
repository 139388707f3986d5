package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

type ctxT = context.Context

// Traceparent is the W3C traceparent of ctx's span, for the guest's
// HTTP_TRACEPARENT: the guest's own outbound requests and spans then sit
// under the host's plugin call. "" when ctx has no span (tracing off).
func Traceparent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	var b [55]byte
	copy(b[:], "00-")
	tid, sid := sc.TraceID(), sc.SpanID()
	hexTo(b[3:35], tid[:])
	b[35] = '-'
	hexTo(b[36:52], sid[:])
	b[52] = '-'
	hexTo(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

// TraceID is ctx's trace id in hex (wasmhost.trace_id, the access log's
// trace_id), "" when there is none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// SampledTraceID is ctx's trace id when that trace is being exported, ""
// otherwise: a metrics exemplar should lead to a trace that exists.
func SampledTraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() {
		return ""
	}
	return sc.TraceID().String()
}

// LogFields are the trace_id and span_id fields of a log line about ctx's
// work, as hclog's key/value arguments; nil when ctx has no span.
func LogFields(ctx context.Context) []any {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []any{"trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String()}
}

const hexDigits = "0123456789abcdef"

func hexTo(dst, src []byte) {
	for i, c := range src {
		dst[2*i], dst[2*i+1] = hexDigits[c>>4], hexDigits[c&15]
	}
}

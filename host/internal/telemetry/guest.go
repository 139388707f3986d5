package telemetry

import (
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Bounds of a guest span: a guest is untrusted, and a span is kept in
// memory until it is exported.
const (
	GuestNameMax  = 128 // bytes of the span's name
	GuestAttrsMax = 16  // attributes; more are dropped
	GuestKeyMax   = 64  // bytes of an attribute's key
	GuestValueMax = 256 // bytes of an attribute's value
)

// GuestSpan is a span a guest recorded, as its host call hands it over.
type GuestSpan struct {
	Name       string
	Start, End time.Time
	Attrs      []string // key, value, key, value...
}

// RecordGuest records g as a finished child of ctx's span, the plugin
// call that made it. Names and attributes are cut to the bounds above,
// attribute keys get a "guest." prefix so that a guest cannot pass its
// attributes off as the host's, and the times are kept within the call's:
// not before it started, not after now.
func (t *Tracer) RecordGuest(ctx ctxT, g GuestSpan) {
	if !t.Enabled() || !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	now := time.Now()
	start, end := g.Start, g.End
	if ro, ok := trace.SpanFromContext(ctx).(sdktrace.ReadOnlySpan); ok && start.Before(ro.StartTime()) {
		start = ro.StartTime()
	}
	if end.After(now) {
		end = now
	}
	if start.After(end) {
		start = end
	}
	n := min(len(g.Attrs)/2, GuestAttrsMax)
	attrs := make([]attribute.KeyValue, 0, n+1)
	attrs = append(attrs, KeyGuest.Bool(true))
	for i := range n {
		k, v := cut(g.Attrs[2*i], GuestKeyMax), cut(g.Attrs[2*i+1], GuestValueMax)
		if k != "" {
			attrs = append(attrs, attribute.String("guest."+k, v))
		}
	}
	name := cut(g.Name, GuestNameMax)
	if name == "" {
		name = "guest"
	}
	_, s := t.tr.Start(ctx, name, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	s.End(trace.WithTimestamp(end))
}

// cut shortens s to at most n bytes on a UTF-8 boundary, and drops invalid
// bytes, which an exporter would refuse.
func cut(s string, n int) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // invalid bytes become U+FFFD
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

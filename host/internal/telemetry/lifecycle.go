package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Event is a change to what the host serves, traced as a span of its own.
type Event string

// The events: a plugin's module swapped in, a site reload (its compiles
// and swaps as children), a module compiled, a module that failed to load
// and was refused.
const (
	EventSwap    Event = "swap"
	EventReload  Event = "reload"
	EventCompile Event = "compile"
	EventLoad    Event = "load"
	EventUpgrade Event = "upgrade"
)

// StartEvent opens the span of a lifecycle event, named "event plugin"
// ("reload" alone for a whole site). Under a reload's context it is a
// child of the reload; otherwise it starts a trace of its own, since no
// request caused it.
func (t *Tracer) StartEvent(ctx ctxT, ev Event, plugin string) (ctxT, Span) {
	if t.skipChild(ctx) {
		return ctx, Span{}
	}
	name := string(ev)
	var attrs []attribute.KeyValue
	if plugin != "" {
		name += " " + plugin
		attrs = append(attrs, KeyPlugin.String(plugin))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...)}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		opts = append(opts, trace.WithNewRoot())
	}
	ctx, s := t.tr.Start(ctx, name, opts...)
	return ctx, Span{s}
}

// EndEvent ends a lifecycle span with the module's hash (the full SHA-256
// in hex, "" when none is known) and the error that refused it, if any.
func (s Span) EndEvent(moduleHash string, err error) {
	if s.s == nil {
		return
	}
	if s.s.IsRecording() && moduleHash != "" {
		s.s.SetAttributes(KeyModuleHash.String(moduleHash))
	}
	s.End(err)
}

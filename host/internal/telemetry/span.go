package telemetry

import (
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Span is one open span. The zero Span, which every helper returns when
// tracing is off or the trace is not sampled, does nothing.
type Span struct {
	s trace.Span
}

// Recording reports whether the span records anything, so that a caller
// can skip building attributes for a span that would drop them.
func (s Span) Recording() bool { return s.s != nil && s.s.IsRecording() }

// SetAttributes adds attributes to a recording span.
func (s Span) SetAttributes(kv ...attribute.KeyValue) {
	if s.Recording() {
		s.s.SetAttributes(kv...)
	}
}

// End ends the span, marking it failed with err's text when err is not nil.
func (s Span) End(err error) {
	if s.s == nil {
		return
	}
	if err != nil && s.s.IsRecording() {
		fail(s.s, err, "")
	}
	s.s.End()
}

// fail marks a span as failed: its status, error.type (kind, or the
// error's Go type) and an exception event with the text.
func fail(s trace.Span, err error, kind string) {
	if kind == "" {
		kind = semconv.ErrorType(unwrapAll(err)).Value.AsString()
	}
	s.SetAttributes(semconv.ErrorTypeKey.String(kind))
	s.RecordError(err)
	s.SetStatus(codes.Error, err.Error())
}

// unwrapAll finds the innermost error, whose type names the failure better
// than a wrapper's *fmt.wrapError.
func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// skipChild reports that a child of ctx's span would not be recorded:
// tracing is off, or the parent is not sampled and the sampler follows
// parents. The SDK is then not asked to make a span only to drop it, which
// keeps an unsampled request (sample_ratio 0) to one span's cost.
func (t *Tracer) skipChild(ctx ctxT) bool {
	if !t.Enabled() {
		return true
	}
	sc := trace.SpanContextFromContext(ctx)
	return t.parentBased && sc.IsValid() && !sc.IsSampled()
}

// start opens a span under ctx's; its attributes are built only when it
// records (attrs is called then).
func (t *Tracer) start(ctx ctxT, name string, kind trace.SpanKind, attrs func() []attribute.KeyValue) (ctxT, Span) {
	ctx, s := t.tr.Start(ctx, name, trace.WithSpanKind(kind))
	if s.IsRecording() {
		s.SetAttributes(attrs()...)
	}
	return ctx, Span{s}
}

package telemetry

import (
	"fmt"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// StartKV opens the span of one key-value operation of a plugin call, named
// "op store" as the database conventions name theirs. backend is the
// store's ("sqlite", "redis").
func (t *Tracer) StartKV(ctx ctxT, store, backend, op string) (ctxT, Span) {
	if t.skipChild(ctx) {
		return ctx, Span{}
	}
	return t.start(ctx, op+" "+store, trace.SpanKindClient, func() []attribute.KeyValue {
		return []attribute.KeyValue{
			semconv.DBSystemNameKey.String(backend),
			semconv.DBNamespace(store),
			semconv.DBOperationName(op),
			KeyStore.String(store),
			KeyOp.String(op),
		}
	})
}

// EndKV ends a key-value span with its outcome (ok, not_found, error, the
// metrics' outcome label); err marks it failed.
func (s Span) EndKV(outcome string, err error) {
	if s.s == nil {
		return
	}
	if s.s.IsRecording() {
		s.s.SetAttributes(KeyOutcome.String(outcome))
		if err != nil {
			fail(s.s, err, "")
		}
	}
	s.s.End()
}

// StartOutbound opens the client span of a plugin's outbound request and
// writes its traceparent into req's headers, replacing any the guest set:
// the upstream's spans then sit under this one. allowed is the
// allowed_hosts entry the destination matched. The span is named
// "METHOD host".
func (t *Tracer) StartOutbound(ctx ctxT, req *http.Request, allowed string) (ctxT, Span) {
	if !t.Enabled() {
		return ctx, Span{}
	}
	var s Span
	host, port := splitHostPort(req.URL.Host, req.URL.Scheme)
	if !t.skipChild(ctx) {
		ctx, s = t.start(ctx, req.Method+" "+host, trace.SpanKindClient, func() []attribute.KeyValue {
			u := *req.URL
			u.User = nil // url.full without credentials
			attrs := []attribute.KeyValue{
				method(req.Method),
				semconv.ServerAddress(host),
				semconv.URLFull(u.String()),
				KeyAllowedHost.String(allowed),
			}
			if port > 0 {
				attrs = append(attrs, semconv.ServerPort(port))
			}
			return attrs
		})
	}
	// Unsampled too: the upstream then knows not to sample either.
	t.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	return ctx, s
}

// EndOutbound ends an outbound span with the response status (0: none
// came, and err says why). A 4xx or 5xx marks a client span failed, as the
// conventions ask.
func (s Span) EndOutbound(status int, err error) {
	if s.s == nil {
		return
	}
	if s.s.IsRecording() {
		if status > 0 {
			s.s.SetAttributes(semconv.HTTPResponseStatusCode(status))
		}
		switch {
		case err != nil:
			fail(s.s, err, "")
		case status >= 400:
			fail(s.s, fmt.Errorf("HTTP %d", status), strconv.Itoa(status))
		}
	}
	s.s.End()
}

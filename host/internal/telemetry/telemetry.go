// Package telemetry is the host's OpenTelemetry tracing: one Tracer per
// process, built from the site's telemetry block and the standard OTEL_*
// variables, and the helpers that the request path calls to open and close
// its spans.
//
// The model is one trace per request, rooted at a server span that follows
// the client's W3C traceparent. Under it, each plugin call (every link of a
// middleware chain, built-ins included) is a child span that records the
// engine, the module version, the time spent waiting for an instance and for
// the scheduler, and how the call ended; key-value operations and outbound
// requests are children of the call that made them, and the outbound span's
// context travels to the upstream in a traceparent header. A guest records
// its own spans through a host call, as children of its plugin call, with
// bounded names and attributes. Swaps, reloads, compiles and failed loads are
// traces of their own.
//
// Tracing is off unless something names an OTLP endpoint. Then the Tracer is
// nil-cost: every helper returns the context it was given and a zero Span
// whose methods do nothing, without allocating. The helpers take a nil
// *Tracer too, so a host built without telemetry needs no branch.
package telemetry

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names the host as the tracer's scope.
const instrumentation = "github.com/wasmhost/wasmhost/host"

// shutdownGrace bounds Shutdown when its context has no deadline: spans
// still queued are dropped after it rather than holding up an exit.
const shutdownGrace = 5 * time.Second

// Tracer opens the host's spans. The zero value and nil are off.
type Tracer struct {
	tp       *sdktrace.TracerProvider
	tr       trace.Tracer
	prop     propagation.TraceContext
	endpoint string
	// parentBased: the sampler follows the parent, so the children of an
	// unsampled span are known to be unsampled without asking the SDK.
	parentBased bool
}

// New builds the Tracer that s describes: off (a nil *Tracer, no error)
// when no endpoint is named, otherwise exporting over OTLP/HTTP in batches.
func New(s Settings) (*Tracer, error) {
	r, err := s.resolve()
	if err != nil || r.endpoint == "" {
		return nil, err
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(r.endpoint))
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter for %s: %w", r.endpoint, err)
	}
	res, err := resource.New(context.Background(),
		resource.WithFromEnv(),
		resource.WithAttributes(r.resource...),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(r.sampler),
	}
	if s.Synchronous {
		opts = append(opts, sdktrace.WithSyncer(exp))
	} else {
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracer{tp: tp, tr: tp.Tracer(instrumentation, trace.WithSchemaURL(semconv.SchemaURL)), endpoint: r.endpoint, parentBased: strings.HasPrefix(r.sampler.Description(), "ParentBased")}, nil
}

// Enabled reports whether spans are made and exported.
func (t *Tracer) Enabled() bool { return t != nil && t.tp != nil }

// Endpoint is the URL spans are sent to, "" when off; for the startup log.
func (t *Tracer) Endpoint() string {
	if !t.Enabled() {
		return ""
	}
	return t.endpoint
}

// Flush exports every span ended so far.
func (t *Tracer) Flush(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Shutdown exports what is queued and stops the exporter, within ctx's
// deadline (a few seconds when it has none). Spans ended afterwards are
// dropped.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, shutdownGrace)
		defer cancel()
	}
	return t.tp.Shutdown(ctx)
}

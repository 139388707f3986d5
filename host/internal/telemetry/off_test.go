package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/telemetry"
	"github.com/wasmhost/wasmhost/host/internal/telemetry/otlptest"
)

// TestOffIsFree: with no endpoint, New gives a nil Tracer whose helpers
// hand back the context they got, allocate nothing and give the guest
// nothing to see.
func TestOffIsFree(t *testing.T) {
	tr, err := telemetry.New(telemetry.Settings{Getenv: noEnv})
	if err != nil || tr != nil || tr.Enabled() {
		t.Fatalf("New with nothing set = %v, %v", tr, err)
	}
	r := httptest.NewRequest("GET", "http://example.com/a", nil)
	r.Header.Set("Traceparent", clientTrace)
	req, _ := http.NewRequest("GET", "http://upstream/", nil)
	allocs := testing.AllocsPerRun(200, func() {
		ctx, srv := tr.StartRequest(telemetry.Request{R: r, Route: "/"})
		cctx, call := tr.StartCall(ctx, telemetry.Call{Name: "app"})
		_, kv := tr.StartKV(cctx, "default", "sqlite", "get")
		kv.EndKV("ok", nil)
		_, out := tr.StartOutbound(cctx, req, "http://upstream")
		out.EndOutbound(200, nil)
		tr.RecordGuest(cctx, telemetry.GuestSpan{Name: "x"})
		call.EndCall(telemetry.CallEnd{})
		srv.EndRequest(200, 0)
		if cctx != r.Context() || telemetry.Traceparent(cctx) != "" || telemetry.LogFields(cctx) != nil {
			t.Fatal("off: a span appeared")
		}
	})
	if allocs != 0 {
		t.Errorf("tracing off allocates %v times per request", allocs)
	}
	if req.Header.Get("Traceparent") != "" {
		t.Error("off: traceparent injected")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestUnsampled: with sample_ratio 0 a request without a traceparent is
// not exported, but its context still carries ids (unsampled) to the
// guest and the upstream; a client's sampled traceparent is followed.
func TestUnsampled(t *testing.T) {
	rcv := otlptest.Start(t)
	zero := 0.0
	tr, err := telemetry.New(telemetry.Settings{OTLPEndpoint: rcv.URL(), SampleRatio: &zero, Getenv: noEnv, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://example.com/a", nil)
	ctx, srv := tr.StartRequest(telemetry.Request{R: r, Route: "/"})
	if srv.Recording() || telemetry.SampledTraceID(ctx) != "" {
		t.Error("sample_ratio 0 sampled a new trace")
	}
	if tp := telemetry.Traceparent(ctx); !strings.HasSuffix(tp, "-00") || len(tp) != 55 {
		t.Errorf("unsampled traceparent = %q", tp)
	}
	srv.EndRequest(200, 0)

	r.Header.Set("Traceparent", clientTrace)
	ctx, srv = tr.StartRequest(telemetry.Request{R: r, Route: "/"})
	if telemetry.SampledTraceID(ctx) != clientTraceID {
		t.Error("a sampled traceparent was not followed")
	}
	f := telemetry.LogFields(ctx)
	if len(f) != 4 || f[0] != "trace_id" || f[1] != clientTraceID || f[2] != "span_id" || f[3] == clientSpanID {
		t.Errorf("log fields = %v", f)
	}
	srv.EndRequest(200, 0)
	tr.Shutdown(context.Background())
	if spans := rcv.Spans(); len(spans) != 1 || spans[0].TraceID != clientTraceID {
		t.Errorf("exported %+v, want only the client's trace", spans)
	}
}

// TestGuestBounds: a guest's span is cut to the bounds, its attributes
// prefixed, and its times kept within its call.
func TestGuestBounds(t *testing.T) {
	rcv := otlptest.Start(t)
	tr, _ := telemetry.New(telemetry.Settings{OTLPEndpoint: rcv.URL(), Getenv: noEnv, Synchronous: true})
	before := time.Now()
	ctx, call := tr.StartCall(context.Background(), telemetry.Call{Name: "app"})
	var attrs []string
	for i := range 40 {
		attrs = append(attrs, strings.Repeat("k", 100)+string(rune('a'+i%26)), strings.Repeat("é", 300))
	}
	tr.RecordGuest(ctx, telemetry.GuestSpan{Name: strings.Repeat("n", 500) + "\xff", Start: before.Add(-time.Hour), End: before.Add(time.Hour), Attrs: attrs})
	call.EndCall(telemetry.CallEnd{})
	tr.Shutdown(context.Background())
	spans := rcv.Spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	g := spans[0]
	if len(g.Name) > telemetry.GuestNameMax || len(g.Attrs) > telemetry.GuestAttrsMax+1 || g.Attrs["wasmhost.guest"] != true {
		t.Errorf("guest span not bounded: name %d bytes, %d attributes", len(g.Name), len(g.Attrs))
	}
	for k, v := range g.Attrs {
		if k != "wasmhost.guest" && (!strings.HasPrefix(k, "guest.") || len(k) > len("guest.")+telemetry.GuestKeyMax || len(v.(string)) > telemetry.GuestValueMax) {
			t.Errorf("attribute %q = %d bytes", k, len(v.(string)))
		}
	}
	if g.Start.Before(spans[1].Start) || g.End.After(time.Now()) || g.ParentID != spans[1].SpanID {
		t.Errorf("guest span %v..%v outside its call %v..%v", g.Start, g.End, spans[1].Start, spans[1].End)
	}
}

// TestShutdownDeadline: a collector that never answers holds Shutdown
// no longer than its deadline.
func TestShutdownDeadline(t *testing.T) {
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer stuck.Close()
	defer close(release)
	tr, _ := telemetry.New(telemetry.Settings{OTLPEndpoint: stuck.URL, Getenv: noEnv})
	_, s := tr.StartCall(context.Background(), telemetry.Call{Name: "app"})
	s.EndCall(telemetry.CallEnd{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	tr.Shutdown(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %s past a 300ms deadline", d)
	}
}

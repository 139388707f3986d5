package telemetry_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/telemetry"
	"github.com/wasmhost/wasmhost/host/internal/telemetry/otlptest"
)

// sequence is the tracing a request through a two-link chain makes: the
// server span, two calls, a KV operation, an outbound request with its
// traceparent, a guest span, and what the guest and the log are given.
func sequence(tr *telemetry.Tracer, r *http.Request, out *http.Request) {
	ctx, srv := tr.StartRequest(telemetry.Request{R: r, Route: "/", Scheme: "http", Client: "127.0.0.1"})
	lctx, link := tr.StartCall(ctx, telemetry.Call{Name: "gzip", Builtin: true, Chain: "app"})
	cctx, call := tr.StartCall(lctx, telemetry.Call{Name: "app", Engine: "wazero", Version: "604b4fe7eb6e", Chain: "app", Position: 1})
	_ = telemetry.Traceparent(cctx)
	_ = telemetry.TraceID(cctx)
	_, kv := tr.StartKV(cctx, "default", "sqlite", "get")
	kv.EndKV("ok", nil)
	_, o := tr.StartOutbound(cctx, out, "http://upstream")
	o.EndOutbound(200, nil)
	now := time.Now()
	tr.RecordGuest(cctx, telemetry.GuestSpan{Name: "render", Start: now, End: now, Attrs: []string{"k", "v"}})
	call.EndCall(telemetry.CallEnd{WaitInstance: time.Microsecond})
	link.EndCall(telemetry.CallEnd{})
	_ = telemetry.LogFields(ctx)
	srv.EndRequest(200, 12)
}

// BenchmarkRequestSequence: tracing off, on with sample_ratio 0 (spans
// made, none exported), and on with every request sampled and exported in
// batches to an OTLP/HTTP receiver on loopback.
func BenchmarkRequestSequence(b *testing.B) {
	zero, one := 0.0, 1.0
	for _, c := range []struct {
		name  string
		ratio *float64
		on    bool
	}{{"off", nil, false}, {"ratio0", &zero, true}, {"sampled", &one, true}} {
		b.Run(c.name, func(b *testing.B) {
			s := telemetry.Settings{Getenv: noEnv, SampleRatio: c.ratio}
			if c.on {
				s.OTLPEndpoint = otlptest.Start(b).URL()
			}
			tr, err := telemetry.New(s)
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest("GET", "http://example.com/a?x=1", nil)
			r.Header.Set("User-Agent", "bench")
			out, _ := http.NewRequest("GET", "http://upstream/api", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				sequence(tr, r, out)
			}
			b.StopTimer()
			tr.Shutdown(b.Context())
		})
	}
}

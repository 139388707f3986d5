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
// made, none exported), and on with every request sampled, exported in
// batches to an OTLP/HTTP receiver on loopback: as fast as requests come
// (the batch queue drops what the exporter cannot keep up with, as it does
// under overload; spans/op says how many arrived), and with every span
// exported.
func BenchmarkRequestSequence(b *testing.B) {
	zero, one := 0.0, 1.0
	for _, c := range []struct {
		name  string
		ratio *float64
		on    bool
		flush bool // wait for every span to reach the receiver
	}{{"off", nil, false, false}, {"ratio0", &zero, true, false}, {"sampled", &one, true, false}, {"sampled-all-exported", &one, true, true}} {
		b.Run(c.name, func(b *testing.B) {
			s := telemetry.Settings{Getenv: noEnv, SampleRatio: c.ratio}
			var rcv *otlptest.Receiver
			if c.on {
				rcv = otlptest.StartCounting(b)
				s.OTLPEndpoint = rcv.URL()
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
			n := 0
			for b.Loop() {
				sequence(tr, r, out)
				// 256 requests' spans fit the batch queue (2048), so
				// flushing this often exports them all: the cost of the
				// export and of the receiver's decoding, on this machine's
				// cores, is then in the figure.
				if n++; c.flush && n%256 == 0 {
					tr.Flush(b.Context())
				}
			}
			b.StopTimer()
			tr.Shutdown(b.Context())
			if rcv != nil {
				// Spans the batch queue dropped rather than slow requests
				// down show as fewer than 7 per request.
				b.ReportMetric(float64(rcv.Count())/float64(b.N), "spans/op")
			}
		})
	}
}

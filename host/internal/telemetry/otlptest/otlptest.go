// Package otlptest is an OTLP/HTTP trace receiver for tests: it decodes
// what an exporter sends with the protocol's own protobuf messages, as a
// collector would, and keeps the spans for a test to inspect. It speaks the
// real protocol so that a test checks what reaches a collector, not what an
// SDK was asked to do.
package otlptest

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one received span, flattened for assertions.
type Span struct {
	TraceID, SpanID, ParentID string // hex; ParentID "" for a root
	Name                      string
	Kind                      string // "server", "client", "internal", ...
	Start, End                time.Time
	Attrs                     map[string]any // string, bool, int64, float64
	Resource                  map[string]any
	StatusError               bool
	StatusMessage             string
	Events                    []string
}

// Receiver is a loopback OTLP/HTTP endpoint.
type Receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	spans   []Span
	count   int  // spans received
	discard bool // count spans without keeping them
	exports int
	arrived chan struct{}
}

// Start serves a receiver until the test ends.
func Start(t testing.TB) *Receiver {
	r := &Receiver{arrived: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// StartCounting serves a receiver that decodes every export but keeps
// only the number of spans: for benchmarks, whose millions of spans would
// otherwise fill the heap and bill the collector's memory to the exporter.
func StartCounting(t testing.TB) *Receiver {
	r := Start(t)
	r.discard = true
	return r
}

// Count is the number of spans received so far.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// URL is the base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, otlp_endpoint).
func (r *Receiver) URL() string { return r.srv.URL }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.Error(w, "not an OTLP traces endpoint", http.StatusNotFound)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "content type "+ct+": only binary protobuf is spoken here", http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &msg); err != nil {
		http.Error(w, "not an ExportTraceServiceRequest: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.add(&msg)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (r *Receiver) add(msg *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exports++
	for _, rs := range msg.ResourceSpans {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			r.count += len(ss.Spans)
			if r.discard {
				continue
			}
			for _, s := range ss.Spans {
				r.spans = append(r.spans, flatten(s, res))
			}
		}
	}
	select {
	case r.arrived <- struct{}{}:
	default:
	}
}

func flatten(s *tracepb.Span, res map[string]any) Span {
	out := Span{
		TraceID:       hex.EncodeToString(s.TraceId),
		SpanID:        hex.EncodeToString(s.SpanId),
		ParentID:      hex.EncodeToString(s.ParentSpanId),
		Name:          s.Name,
		Kind:          strings.ToLower(strings.TrimPrefix(s.Kind.String(), "SPAN_KIND_")),
		Start:         time.Unix(0, int64(s.StartTimeUnixNano)),
		End:           time.Unix(0, int64(s.EndTimeUnixNano)),
		Attrs:         attrs(s.Attributes),
		Resource:      res,
		StatusError:   s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
		StatusMessage: s.GetStatus().GetMessage(),
	}
	for _, e := range s.Events {
		out.Events = append(out.Events, e.Name)
	}
	return out
}

func attrs(kvs []*commonpb.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.GetStringValue()
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = v.GetBoolValue()
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = v.GetIntValue()
		case *commonpb.AnyValue_DoubleValue:
			m[kv.Key] = v.GetDoubleValue()
		default:
			m[kv.Key] = v.String()
		}
	}
	return m
}

// Spans is every span received so far, in arrival order.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Exports counts the export requests received.
func (r *Receiver) Exports() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exports
}

// WaitFor waits until at least n spans have arrived, failing the test
// after timeout.
func (r *Receiver) WaitFor(t testing.TB, n int, timeout time.Duration) []Span {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if s := r.Spans(); len(s) >= n {
			return s
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("otlptest: %d spans after %s, want %d:\n%s", len(r.Spans()), timeout, n, Tree(r.Spans()))
		}
	}
}

// Tree draws spans as indented parent/child lines, for failure messages.
func Tree(spans []Span) string {
	kids := map[string][]Span{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	var roots []Span
	for _, s := range spans {
		if s.ParentID == "" || !ids[s.ParentID] {
			roots = append(roots, s)
		} else {
			kids[s.ParentID] = append(kids[s.ParentID], s)
		}
	}
	var b strings.Builder
	var draw func(s Span, depth int)
	draw = func(s Span, depth int) {
		fmt.Fprintf(&b, "%s%s [%s] trace=%s parent=%s\n", strings.Repeat("  ", depth), s.Name, s.Kind, s.TraceID, s.ParentID)
		k := kids[s.SpanID]
		sort.Slice(k, func(i, j int) bool { return k[i].Start.Before(k[j].Start) })
		for _, c := range k {
			draw(c, depth+1)
		}
	}
	for _, r := range roots {
		draw(r, 0)
	}
	return b.String()
}

package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/telemetry"
	"github.com/wasmhost/wasmhost/host/internal/telemetry/otlptest"
)

// clientTrace is the traceparent the test's client sends: a sampled trace
// that the host's spans must join.
const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
	clientTrace   = "00-" + clientTraceID + "-" + clientSpanID + "-01"
)

// upstream records the traceparent of each request it receives.
type upstream struct {
	mu   sync.Mutex
	seen []string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.seen = append(u.seen, r.Header.Get("Traceparent"))
	u.mu.Unlock()
	io.WriteString(w, "upstream ok")
}

// requestShaped serves one request as the host does: a server span, a
// chain of a built-in and the app plugin, a KV operation, an outbound
// request and a guest span inside the app's call. It reports what the
// guest would be given.
func requestShaped(tr *telemetry.Tracer, upURL string, guestSaw *[2]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, srv := tr.StartRequest(telemetry.Request{R: r, Route: "/app", Scheme: "http", Client: "127.0.0.1"})
		lctx, link := tr.StartCall(ctx, telemetry.Call{Name: "gzip", Builtin: true, Chain: "app", Position: 0})
		cctx, call := tr.StartCall(lctx, telemetry.Call{Name: "app", Engine: "wazero", Version: "604b4fe7eb6e", Chain: "app", Position: 1})
		guestSaw[0], guestSaw[1] = telemetry.Traceparent(cctx), telemetry.TraceID(cctx)
		guestStart := time.Now()

		_, kv := tr.StartKV(cctx, "default", "sqlite", "get")
		kv.EndKV("not_found", nil)

		req, _ := http.NewRequestWithContext(cctx, "GET", upURL+"/api?q=1", nil)
		req.Header.Set("Traceparent", "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01") // a guest's, replaced
		_, out := tr.StartOutbound(cctx, req, upURL)
		resp, err := http.DefaultTransport.RoundTrip(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		out.EndOutbound(status, err)

		tr.RecordGuest(cctx, telemetry.GuestSpan{Name: "render", Start: guestStart, End: time.Now(), Attrs: []string{"template", "index"}})
		call.EndCall(telemetry.CallEnd{WaitInstance: 3 * time.Millisecond, WaitScheduler: time.Millisecond})
		link.EndCall(telemetry.CallEnd{})
		w.Header().Set("X-Trace-Id", telemetry.TraceID(ctx))
		io.WriteString(w, "hello")
		srv.EndRequest(200, 5)
	})
}

// TestRequestTree: a request from curl carrying a traceparent arrives at
// an OTLP receiver as one tree under the client's span, every span with
// its parent and attributes, and the upstream gets the outbound span as
// its parent.
func TestRequestTree(t *testing.T) {
	rcv := otlptest.Start(t)
	tr, err := telemetry.New(telemetry.Settings{OTLPEndpoint: rcv.URL(), Getenv: noEnv, Version: "test"})
	if err != nil || !tr.Enabled() {
		t.Fatalf("New: %v, enabled %v", err, tr.Enabled())
	}
	up := &upstream{}
	ups := httptest.NewServer(up)
	defer ups.Close()
	var guestSaw [2]string
	site := httptest.NewServer(requestShaped(tr, ups.URL, &guestSaw))
	defer site.Close()

	out, err := exec.Command("curl", "-sS", "-D", "-", "-H", "traceparent: "+clientTrace, "-A", "curl-test", site.URL+"/app/page?x=1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello") {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.Contains(strings.ToLower(string(out)), "x-trace-id: "+clientTraceID) {
		t.Errorf("the response's trace id is not the client's:\n%s", out)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rcv.WaitFor(t, 6, 5*time.Second)
	tree := otlptest.Tree(spans)
	by := map[string]otlptest.Span{}
	for _, s := range spans {
		if s.TraceID != clientTraceID {
			t.Errorf("span %q is in trace %s, not the client's:\n%s", s.Name, s.TraceID, tree)
		}
		by[s.Name] = s
	}
	parent := func(child, want string) {
		t.Helper()
		c, ok := by[child]
		if !ok {
			t.Fatalf("no span %q:\n%s", child, tree)
		}
		p := clientSpanID
		if want != "" {
			p = by[want].SpanID
		}
		if c.ParentID != p {
			t.Errorf("span %q's parent = %s, want %q (%s):\n%s", child, c.ParentID, want, p, tree)
		}
	}
	parent("GET /app", "")
	parent("gzip", "GET /app")
	parent("app", "gzip")
	parent("get default", "app")
	parent("GET 127.0.0.1", "app")
	parent("render", "app")

	checkAttributes(t, by, ups.URL)
	// The upstream's parent is the outbound span, and the guest's own
	// traceparent was replaced.
	if want := "00-" + clientTraceID + "-" + by["GET 127.0.0.1"].SpanID + "-01"; len(up.seen) != 1 || up.seen[0] != want {
		t.Errorf("upstream saw traceparent %q, want %q", up.seen, want)
	}
	if want := "00-" + clientTraceID + "-" + by["app"].SpanID + "-01"; guestSaw[0] != want || guestSaw[1] != clientTraceID {
		t.Errorf("guest saw HTTP_TRACEPARENT %q and trace id %q, want %q and %q", guestSaw[0], guestSaw[1], want, clientTraceID)
	}
}

// checkAttributes holds each span of TestRequestTree to its kind and the
// attributes the host gives it.
func checkAttributes(t *testing.T, by map[string]otlptest.Span, upsURL string) {
	t.Helper()
	want := map[string]map[string]any{
		"GET /app": {"http.request.method": "GET", "http.route": "/app", "url.path": "/app/page", "url.query": "x=1",
			"url.scheme": "http", "http.response.status_code": int64(200), "user_agent.original": "curl-test", "client.address": "127.0.0.1"},
		"gzip": {"wasmhost.plugin": "gzip", "wasmhost.builtin": true, "wasmhost.chain": "app", "wasmhost.link.position": int64(0), "wasmhost.result": "ok"},
		"app": {"wasmhost.plugin": "app", "wasmhost.engine": "wazero", "wasmhost.plugin_version": "604b4fe7eb6e",
			"wasmhost.link.position": int64(1), "wasmhost.wait.instance_seconds": 0.003, "wasmhost.wait.scheduler_seconds": 0.001, "wasmhost.result": "ok"},
		"get default":   {"db.system.name": "sqlite", "db.namespace": "default", "db.operation.name": "get", "wasmhost.kv.store": "default", "wasmhost.kv.op": "get", "wasmhost.kv.outcome": "not_found"},
		"GET 127.0.0.1": {"http.request.method": "GET", "server.address": "127.0.0.1", "url.full": upsURL + "/api?q=1", "http.response.status_code": int64(200), "wasmhost.allowed_host": upsURL},
		"render":        {"wasmhost.guest": true, "guest.template": "index"},
	}
	for name, attrs := range want {
		for k, v := range attrs {
			if got := by[name].Attrs[k]; got != v {
				t.Errorf("span %q: %s = %#v, want %#v", name, k, got, v)
			}
		}
	}
	kinds := map[string]string{"GET /app": "server", "gzip": "internal", "app": "internal", "get default": "client", "GET 127.0.0.1": "client", "render": "internal"}
	for name, k := range kinds {
		if by[name].Kind != k {
			t.Errorf("span %q kind = %s, want %s", name, by[name].Kind, k)
		}
	}
	if got := by["GET /app"].Resource["service.name"]; got != "wasmhost" {
		t.Errorf("service.name = %v", got)
	}
}

// TestResultsAndEvents: a trapped call is a failed span with its result;
// a refused swap is a root span with the module's hash and the error.
func TestResultsAndEvents(t *testing.T) {
	rcv := otlptest.Start(t)
	tr, err := telemetry.New(telemetry.Settings{OTLPEndpoint: rcv.URL(), Getenv: noEnv, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	r := httptest.NewRequest("GET", "http://example.com/", nil)
	ctx, srv := tr.StartRequest(telemetry.Request{R: r, Route: "/", Scheme: "http"})
	_, call := tr.StartCall(ctx, telemetry.Call{Name: "panic", Engine: "wazy", Version: "abc"})
	call.EndCall(telemetry.CallEnd{Result: telemetry.ResultTrap, Err: errors.New("wasm trap: unreachable")})
	srv.EndRequest(500, 0)

	rctx, reload := tr.StartEvent(context.Background(), telemetry.EventReload, "")
	_, swap := tr.StartEvent(rctx, telemetry.EventSwap, "hello")
	swap.EndEvent("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", errors.New("does not export wasmhost_abi_1"))
	reload.EndEvent("", nil)

	spans := rcv.WaitFor(t, 4, 5*time.Second)
	by := map[string]otlptest.Span{}
	for _, s := range spans {
		by[s.Name] = s
	}
	p := by["panic"]
	if !p.StatusError || p.Attrs["wasmhost.result"] != "trap" || p.Attrs["error.type"] != "trap" || len(p.Events) != 1 || p.Events[0] != "exception" {
		t.Errorf("trapped call span: %+v", p)
	}
	if s := by["GET /"]; !s.StatusError || s.Attrs["error.type"] != "500" || s.ParentID != "" {
		t.Errorf("server span of a 500: %+v", s)
	}
	sw, rl := by["swap hello"], by["reload"]
	if sw.ParentID != rl.SpanID || rl.ParentID != "" || sw.TraceID == by["GET /"].TraceID {
		t.Errorf("swap under reload, a trace of its own:\n%s", otlptest.Tree(spans))
	}
	if !sw.StatusError || sw.Attrs["wasmhost.module.sha256"] == nil || !strings.Contains(sw.StatusMessage, "wasmhost_abi_1") || sw.Attrs["wasmhost.plugin"] != "hello" {
		t.Errorf("refused swap span: %+v", sw)
	}
}

func noEnv(string) string { return "" }

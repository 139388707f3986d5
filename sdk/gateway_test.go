package sdk

import (
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/abi"
)

// runGateway serves one request through a gateway handler and fakeHost.
func runGateway(t *testing.T, g func(*Gateway), f *fakeHost, flags int32, env ...string) int32 {
	t.Helper()
	oldH, oldG := registered, registeredGateway
	HandleGateway(g)
	defer func() { registered, registeredGateway = oldH, oldG }()
	f.environ = encodeEnviron(append(append([]string{}, baseEnviron...), env...)...)
	return serve(f, int32(len(f.environ)), flags)
}

func TestGatewayHelloCrossesTheABIOnce(t *testing.T) {
	f := &fakeHost{}
	rc := runGateway(t, func(g *Gateway) {
		g.StartResponse(200, "Content-Type", "text/plain")
		g.Write([]byte("Hello, " + g.Getenv("HTTP_X_NAME")))
	}, f, 0, "HTTP_X_NAME", "you")
	if rc != abi.HandleOK || f.status != 200 || f.out.String() != "Hello, you" || f.headers.Get("Content-Type") != "text/plain" {
		t.Fatalf("rc %d status %d headers %v body %q", rc, f.status, f.headers, f.out.String())
	}
	want := []string{fmt.Sprintf("environ_get(%d)", len(f.environ)), "start_response(200)", "body_write(10)"}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("host calls %v, want %v: a bare hello is three host calls", f.calls, want)
	}
}

func TestGatewayEnvironAndBody(t *testing.T) {
	f := &fakeHost{body: []byte("request body")}
	var seen []string
	var body []byte
	var missing string
	runGateway(t, func(g *Gateway) {
		g.Environ(func(k, v string) {
			if strings.HasPrefix(k, "HTTP_") {
				seen = append(seen, k+"="+v)
			}
		})
		missing = g.Getenv("NOPE")
		body, _ = io.ReadAll(g)
		g.WriteString("ok")
	}, f, abi.FlagHasBody, "HTTP_X_A", "1", "HTTP_X_B", "two")
	if !reflect.DeepEqual(seen, []string{"HTTP_HOST=example.com", "HTTP_X_A=1", "HTTP_X_B=two"}) {
		t.Errorf("Environ saw %v", seen)
	}
	if missing != "" || string(body) != "request body" {
		t.Errorf("Getenv(NOPE) %q, body %q", missing, body)
	}
	if f.status != 200 || f.out.String() != "ok" {
		t.Errorf("a Write without StartResponse: status %d body %q, want an implicit 200", f.status, f.out.String())
	}
}

func TestGatewayMisuse(t *testing.T) {
	var kept *Gateway
	var errs []error
	f := &fakeHost{startRC: []int32{abi.ErrInvalid}}
	runGateway(t, func(g *Gateway) {
		kept = g
		errs = append(errs, g.StartResponse(200, "Content-Type"))  // odd pairs
		errs = append(errs, g.StartResponse(42))                   // bad status
		errs = append(errs, g.StartResponse(200, "Bad Name", "x")) // host refuses
		errs = append(errs, g.StartResponse(200))                  // twice
		_, err := g.Write([]byte("x"))
		errs = append(errs, err)
		n, _ := g.Read(make([]byte, 8))
		if n != 0 {
			t.Errorf("read %d bytes of a request without a body", n)
		}
	}, f, 0)
	for i, err := range errs {
		if err == nil {
			t.Errorf("misuse %d: no error", i)
		}
	}
	if _, err := kept.Write([]byte("late")); err != errHandlerDone {
		t.Errorf("a Gateway kept past its handler: %v", err)
	}
}

func TestGatewayPanicFailsTheRequest(t *testing.T) {
	var buf strings.Builder
	old := stderr
	stderr = &buf
	defer func() { stderr = old }()
	rc := runGateway(t, func(g *Gateway) { panic("gateway boom") }, &fakeHost{}, 0)
	if rc != abi.HandleFailed || !strings.Contains(buf.String(), "gateway boom") {
		t.Errorf("rc %d, stderr %q", rc, buf.String())
	}
}

// TestGatewayUnderHTTPTest: Handler() runs a gateway natively.
func TestGatewayUnderHTTPTest(t *testing.T) {
	oldH, oldG := registered, registeredGateway
	defer func() { registered, registeredGateway = oldH, oldG }()
	HandleGateway(func(g *Gateway) {
		b, _ := io.ReadAll(g)
		g.StartResponse(201, "Content-Type", "text/plain", "X-Method", g.Getenv("REQUEST_METHOD"))
		g.Write(b)
		g.Flush()
	})
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/x", strings.NewReader("echo me")))
	if rec.Code != 201 || rec.Body.String() != "echo me" || rec.Header().Get("X-Method") != "POST" || !rec.Flushed {
		t.Errorf("%d %q %v flushed %v", rec.Code, rec.Body.String(), rec.Header(), rec.Flushed)
	}
}

// BenchmarkServeGateway is BenchmarkServeHello on the bare gateway: the
// guest's own work per request, natively (allocations are what wasm sees).
func BenchmarkServeGateway(b *testing.B) {
	greeting := []byte("Hello, world\n")
	oldH, oldG := registered, registeredGateway
	HandleGateway(func(g *Gateway) {
		g.StartResponse(200, "Content-Type", "text/plain; charset=utf-8")
		g.Write(greeting)
	})
	defer func() { registered, registeredGateway = oldH, oldG }()
	q := &quietHost{environ: encodeEnviron(append(baseEnviron, "HTTP_USER_AGENT", "bench", "wasmhost.plugin", "hello")...)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ { // not b.Loop: the module says go 1.21
		serve(q, int32(len(q.environ)), 0)
	}
}

// TestGatewayAllocations: a bare hello allocates its Gateway and its
// environ string, nothing per header or environ entry.
func TestGatewayAllocations(t *testing.T) {
	greeting := []byte("Hello, world\n")
	oldH, oldG := registered, registeredGateway
	HandleGateway(func(g *Gateway) {
		g.StartResponse(200, "Content-Type", "text/plain; charset=utf-8")
		g.Getenv("HTTP_USER_AGENT")
		g.Write(greeting)
	})
	defer func() { registered, registeredGateway = oldH, oldG }()
	q := &quietHost{environ: encodeEnviron(append(baseEnviron, "HTTP_USER_AGENT", "bench", "wasmhost.plugin", "hello")...)}
	allocs := testing.AllocsPerRun(100, func() { serve(q, int32(len(q.environ)), 0) })
	t.Logf("%v allocations per bare hello request", allocs)
	if allocs > 2 {
		t.Errorf("%v allocations per bare hello request, want at most 2 (the Gateway and its environ)", allocs)
	}
}

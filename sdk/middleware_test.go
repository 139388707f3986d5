package sdk

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/abi"
)

// fakeChain plays the host's side of next_*: a scripted downstream.
type fakeChain struct {
	events  []fakeEvent
	req     []byte
	flags   int32
	payload []byte
	body    []byte // what the middleware supplied through next_body
}

type fakeEvent struct {
	kind int32
	data []byte
	want uint32 // for EventBodyWanted
}

func (f *fakeChain) nextStart(req []byte, flags int32) int32 {
	f.req, f.flags = append([]byte(nil), req...), flags
	return 0
}

func (f *fakeChain) nextWait(size *uint32) int32 {
	if len(f.events) == 0 {
		return abi.ErrState
	}
	ev := f.events[0]
	f.events = f.events[1:]
	f.payload = ev.data
	*size = uint32(len(ev.data))
	if ev.kind == abi.EventBodyWanted {
		*size = ev.want
	}
	return ev.kind
}

func (f *fakeChain) nextRead(buf []byte) int32 {
	n := copy(buf, f.payload)
	f.payload = f.payload[n:]
	return int32(n)
}

func (f *fakeChain) nextBody(buf []byte, errno int32) int32 {
	f.body = append(f.body, buf...)
	return 0
}

func head(status string, kv ...string) []byte {
	b := abi.AppendPair(nil, abi.NextStatus, status)
	for i := 0; i+1 < len(kv); i += 2 {
		b = abi.AppendPair(b, kv[i], kv[i+1])
	}
	return b
}

func TestRunNextRelaysTheDownstream(t *testing.T) {
	f := &fakeChain{events: []fakeEvent{
		{kind: abi.EventBodyWanted, want: 4},
		{kind: abi.EventBodyWanted, want: 100},
		{kind: abi.EventBodyWanted, want: 100},
		{kind: abi.EventHead, data: head("201", "Content-Type", "text/plain", "Set-Cookie", "b=2", "X-Thing", "down")},
		{kind: abi.EventBody, data: []byte(strings.Repeat("x", 100000))},
		{kind: abi.EventFlush},
		{kind: abi.EventDone},
	}}
	rec := httptest.NewRecorder()
	rec.Header().Set("Set-Cookie", "a=1")
	rec.Header().Set("X-Thing", "mine")
	r := httptest.NewRequest("PUT", "/p?q=1", nil)
	r.Body = io.NopCloser(strings.NewReader("hello body"))
	r.ContentLength = -1
	r.Header.Set("X-Via", "mw")
	runNext(f, rec, r, &environContext{Context: context.Background()})

	if rec.Code != 201 || rec.Body.Len() != 100000 || !rec.Flushed {
		t.Errorf("relayed %d, %d bytes, flushed %v", rec.Code, rec.Body.Len(), rec.Flushed)
	}
	if got := rec.Header().Values("Set-Cookie"); strings.Join(got, ",") != "a=1,b=2" {
		t.Errorf("Set-Cookie %v, want both sides' cookies", got)
	}
	if got := rec.Header().Get("X-Thing"); got != "down" {
		t.Errorf("X-Thing %q, want the downstream's value", got)
	}
	if string(f.body) != "hello body" {
		t.Errorf("the downstream was given %q, want the middleware's body", f.body)
	}
	if f.flags != abi.NextHasBody|abi.NextOwnBody {
		t.Errorf("flags %b, want has-body and own-body", f.flags)
	}
	desc := map[string]string{}
	for p := f.req; len(p) > 0; {
		k, v, rest, _ := abi.NextPair(p)
		desc[string(k)] = string(v)
		p = rest
	}
	if desc[abi.NextMethod] != "PUT" || desc[abi.NextPath] != "/p" || desc[abi.NextQuery] != "q=1" || desc["X-Via"] != "mw" {
		t.Errorf("request description %v", desc)
	}
	if _, ok := desc[abi.NextContentLength]; ok {
		t.Errorf("a body of unknown length was described with a length: %v", desc)
	}
}

func TestRunNextAbortsWhenTheDownstreamFails(t *testing.T) {
	f := &fakeChain{events: []fakeEvent{{kind: abi.EventHead, data: head("200")}, {kind: abi.ErrDownstream}}}
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	runNext(f, httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), &environContext{Context: context.Background()})
}

func TestMiddlewareNatively(t *testing.T) {
	oldReg, oldMw, oldKind := registered, middleware, kind
	defer func() { registered, middleware, kind = oldReg, oldMw, oldKind }()
	HandleMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Wrapped", "yes")
			next.ServeHTTP(w, r)
		})
	})
	if kind != abi.KindMiddleware {
		t.Errorf("kind %d after HandleMiddleware", kind)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") })
	rec := httptest.NewRecorder()
	Middleware()(app).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Body.String() != "app" || rec.Header().Get("X-Wrapped") != "yes" {
		t.Errorf("wrapped natively: %q %v", rec.Body.String(), rec.Header())
	}
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusBadGateway {
		t.Errorf("the registered middleware natively, with no downstream: %d, want 502", rec.Code)
	}
}

func TestSecureCookiesNatively(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := SetSecureCookie(rec, "user", "alice"); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", rec.Header().Get("Set-Cookie"))
	if v, err := SecureCookie(r, "user"); v != "alice" || err != nil {
		t.Errorf("SecureCookie = %q %v", v, err)
	}
	r.Header.Set("Cookie", "user=YWxpY2U|00")
	if _, err := SecureCookie(r, "user"); err != ErrInvalidCookie {
		t.Errorf("forged: %v, want ErrInvalidCookie", err)
	}
	if tok := XSRFToken(r); tok != "" {
		t.Errorf("XSRFToken natively = %q, want empty", tok)
	}
}

package sdk

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/abi"
)

type leakKey struct{}

// TestReuseIsolation serves a request whose handler dirties everything a
// handler can reach (headers, form, trailer, path values, the body, the
// context through a derived request, the writer's header map), then a
// second request on the same instance, which must see none of it.
func TestReuseIsolation(t *testing.T) {
	first := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Leak", "1")
		r.Header.Add("User-Agent", "more")
		r.ParseForm()
		r.Form.Set("leak", "1")
		r.Trailer = http.Header{"X-Trailer": {"1"}}
		r.Close = true
		r.TransferEncoding = []string{"chunked"}
		io.ReadAll(r.Body)
		_ = r.WithContext(context.WithValue(r.Context(), leakKey{}, 1))
		w.Header().Set("X-Resp-Leak", "1")
		w.WriteHeader(201)
		w.Write([]byte("first"))
	})
	f := &fakeHost{body: []byte("a=1&b=2")}
	if rc := run(t, first, f, abi.FlagHasBody, "REQUEST_METHOD", "POST", "QUERY_STRING", "q=1",
		"CONTENT_TYPE", "application/x-www-form-urlencoded", "CONTENT_LENGTH", "7",
		"HTTP_USER_AGENT", "first"); rc != abi.HandleOK {
		t.Fatalf("first request: rc %d", rc)
	}
	if f.status != 201 || f.out.String() != "first" {
		t.Fatalf("first request: %d %q", f.status, f.out.String())
	}
	var problems []string
	second := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		check := func(ok bool, what string) {
			if !ok {
				problems = append(problems, what)
			}
		}
		check(r.Method == "GET", "method "+r.Method)
		check(len(r.Header) == 1 && r.Header.Get("Accept") == "*/*", "headers "+strings.Join(keys(r.Header), ","))
		check(r.Form == nil && r.PostForm == nil && r.MultipartForm == nil, "form")
		check(r.Trailer == nil, "trailer")
		check(!r.Close && r.TransferEncoding == nil, "close / transfer-encoding")
		check(r.Body == http.NoBody && r.ContentLength == 0, "body")
		check(r.URL.RawQuery == "" && r.URL.Path == "/", "url "+r.URL.String())
		check(r.Context().Value(leakKey{}) == nil && r.Context().Err() == nil, "context")
		check(len(w.Header()) == 0, "response header")
		r.ParseForm()
		check(len(r.Form) == 0, "parsed form")
		w.Write([]byte("second"))
	})
	f2 := &fakeHost{}
	if rc := run(t, second, f2, 0, "HTTP_ACCEPT", "*/*"); rc != abi.HandleOK {
		t.Fatalf("second request: rc %d", rc)
	}
	if f2.status != 200 || f2.out.String() != "second" || f2.headers.Get("X-Resp-Leak") != "" {
		t.Errorf("second response: %d %q %v", f2.status, f2.out.String(), f2.headers)
	}
	for _, p := range problems {
		t.Errorf("second request sees the first's %s", p)
	}
}

// TestReuseKeepsStrings: strings a handler keeps from one request stay
// what they were after later requests (they point into that request's own
// environ, never into a reused buffer).
func TestReuseKeepsStrings(t *testing.T) {
	var kept []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept = append(kept, r.URL.Path, r.Header.Get("User-Agent"), r.RemoteAddr, r.Host)
	})
	for _, ua := range []string{"aaaa", "bbbb", "cccc"} {
		if rc := run(t, h, &fakeHost{}, 0, "PATH_INFO", "/"+ua, "HTTP_USER_AGENT", ua, "REMOTE_PORT", ua[:1]); rc != abi.HandleOK {
			t.Fatalf("rc %d", rc)
		}
	}
	want := []string{"/aaaa", "aaaa", "192.0.2.7:a", "example.com", "/bbbb", "bbbb", "192.0.2.7:b", "example.com", "/cccc", "cccc", "192.0.2.7:c", "example.com"}
	if strings.Join(kept, " ") != strings.Join(want, " ") {
		t.Errorf("kept %q, want %q", kept, want)
	}
}

// TestReuseAfterDone: a request whose context handed out Done, or was
// cancelled, is not reused, so a goroutine still watching it is not woken,
// or fooled, by the next request.
func TestReuseAfterDone(t *testing.T) {
	var ctxs []context.Context
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctxs = append(ctxs, r.Context())
		if len(ctxs) == 1 {
			_ = r.Context().Done()
		}
		if len(ctxs) == 2 {
			io.ReadAll(r.Body) // the host says the client left: cancelled
		}
	})
	run(t, h, &fakeHost{}, 0)
	run(t, h, &fakeHost{body: []byte("x"), bodyErr: abi.ErrClosed}, abi.FlagHasBody, "CONTENT_LENGTH", "1")
	run(t, h, &fakeHost{}, 0)
	if ctxs[0] == ctxs[1] || ctxs[1] == ctxs[2] {
		t.Fatal("a context that handed out Done, or was cancelled, was reused")
	}
	if ctxs[0].Err() != nil || ctxs[1].Err() == nil {
		t.Errorf("first ctx err %v, second %v", ctxs[0].Err(), ctxs[1].Err())
	}
	if ctxs[2].Err() != nil {
		t.Errorf("third ctx err %v: the second's cancellation leaked", ctxs[2].Err())
	}
}

func keys(h http.Header) []string {
	var ks []string
	for k := range h {
		ks = append(ks, k)
	}
	return ks
}

package sdk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/abi"
)

// fakeHost records the calls a request makes, the way a host would see them.
type fakeHost struct {
	environ []byte
	body    []byte
	bodyErr int32 // returned once body is exhausted, instead of EOF

	startRC []int32 // results for successive start_response calls (default 0)
	writeRC int32   // result of every body_write
	flushRC int32

	status  int32
	headers http.Header
	out     bytes.Buffer
	calls   []string
	logs    []string
}

func (f *fakeHost) environGet(buf []byte) int32 {
	f.calls = append(f.calls, fmt.Sprintf("environ_get(%d)", len(buf)))
	if len(buf) >= len(f.environ) {
		copy(buf, f.environ)
	}
	return int32(len(f.environ))
}

func (f *fakeHost) bodyRead(buf []byte) int32 {
	f.calls = append(f.calls, "body_read")
	if len(f.body) == 0 {
		return f.bodyErr
	}
	n := copy(buf, f.body)
	f.body = f.body[n:]
	return int32(n)
}

func (f *fakeHost) startResponse(status int32, headers []byte) int32 {
	f.calls = append(f.calls, fmt.Sprintf("start_response(%d)", status))
	rc := int32(0)
	if len(f.startRC) > 0 {
		rc, f.startRC = f.startRC[0], f.startRC[1:]
	}
	if rc == 0 {
		f.status = status
		f.headers = http.Header{}
		for len(headers) > 0 {
			k, v, rest, ok := abi.NextPair(headers)
			if !ok {
				panic("malformed headers")
			}
			f.headers.Add(string(k), string(v))
			headers = rest
		}
	}
	return rc
}

func (f *fakeHost) bodyWrite(buf []byte) int32 {
	f.calls = append(f.calls, fmt.Sprintf("body_write(%d)", len(buf)))
	if f.writeRC == 0 {
		f.out.Write(buf)
	}
	return f.writeRC
}

func (f *fakeHost) bodyFlush() int32 {
	f.calls = append(f.calls, "body_flush")
	return f.flushRC
}

func (f *fakeHost) log(level int32, msg string) {
	f.logs = append(f.logs, fmt.Sprintf("%d %s", level, msg))
}

func encodeEnviron(kv ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = abi.AppendPair(b, kv[i], kv[i+1])
	}
	return b
}

var baseEnviron = []string{
	"REQUEST_METHOD", "GET",
	"SCRIPT_NAME", "",
	"PATH_INFO", "/",
	"QUERY_STRING", "",
	"REQUEST_URI", "/",
	"SERVER_PROTOCOL", "HTTP/1.1",
	"REMOTE_ADDR", "192.0.2.7",
	"REMOTE_PORT", "40000",
	"HTTP_HOST", "example.com",
	"wasmhost.url_scheme", "http",
}

// run serves one request through h with the given environ overrides.
func run(t *testing.T, h http.Handler, f *fakeHost, flags int32, env ...string) int32 {
	t.Helper()
	old := registered
	registered = h
	defer func() { registered = old }()
	f.environ = encodeEnviron(append(append([]string{}, baseEnviron...), env...)...)
	return serve(f, int32(len(f.environ)), flags)
}

func TestRequestFromEnviron(t *testing.T) {
	var got *http.Request
	var env map[string]string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, env = r, Environ(r)
	})
	f := &fakeHost{}
	run(t, h, f, 0,
		"REQUEST_METHOD", "PUT",
		"SCRIPT_NAME", "/api",
		"PATH_INFO", "/a/b c/ü",
		"QUERY_STRING", "x=1&y=%20",
		"REQUEST_URI", "/api/a%2Fb%20c/%C3%BC?x=1&y=%20",
		"SERVER_PROTOCOL", "HTTP/2.0",
		"REMOTE_ADDR", "2001:db8::1",
		"HTTP_USER_AGENT", "test/1.0",
		"HTTP_X_FORWARDED_FOR", "a, b",
		"HTTP_DNT", "1",
		"CONTENT_TYPE", "text/plain",
		"CONTENT_LENGTH", "0",
		"wasmhost.url_scheme", "https",
		"GREETING", "hi",
	)
	if got == nil {
		t.Fatal("handler not called")
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("Method", got.Method, "PUT")
	check("URL.Path", got.URL.Path, "/a/b c/ü")
	check("EscapedPath", got.URL.EscapedPath(), "/a%2Fb%20c/%C3%BC")
	check("RawQuery", got.URL.RawQuery, "x=1&y=%20")
	check("Query y", got.URL.Query().Get("y"), " ")
	check("RequestURI", got.RequestURI, "/api/a%2Fb%20c/%C3%BC?x=1&y=%20")
	check("Proto", []any{got.Proto, got.ProtoMajor, got.ProtoMinor}, []any{"HTTP/2.0", 2, 0})
	check("RemoteAddr", got.RemoteAddr, "[2001:db8::1]:40000")
	check("Host", got.Host, "example.com")
	check("Header", got.Header, http.Header{
		"User-Agent":      {"test/1.0"},
		"X-Forwarded-For": {"a, b"},
		"Dnt":             {"1"},
		"Content-Type":    {"text/plain"},
		"Content-Length":  {"0"},
	})
	check("ContentLength", got.ContentLength, int64(0))
	check("Body", got.Body, http.NoBody)
	check("TLS set", got.TLS != nil, true)
	check("Environ GREETING", env["GREETING"], "hi")
	check("Environ SCRIPT_NAME", env["SCRIPT_NAME"], "/api")
	if got.Context() == nil || got.Context().Err() != nil {
		t.Error("request context missing or done")
	}
}

func TestRawPath(t *testing.T) {
	cases := []struct{ uri, path, want string }{
		{"/a/b", "/a/b", ""},
		{"/mnt/a%2Fb", "/a/b", "/a%2Fb"},
		{"/a%2Fb?q=%2F", "/a/b", "/a%2Fb"},
		{"http://h:1/x/%41", "/A", "/%41"},
		{"/x/%2541", "/%41", "/%2541"},
		{"/a/b", "/c", ""},
		{"*", "*", ""},
		{"/m", "", ""},
	}
	for _, c := range cases {
		if got := rawPath(c.uri, c.path); got != c.want {
			t.Errorf("rawPath(%q, %q) = %q, want %q", c.uri, c.path, got, c.want)
		}
	}
}

func TestEnvironGrowAndRetry(t *testing.T) {
	f := &fakeHost{}
	f.environ = encodeEnviron(baseEnviron...)
	old := registered
	defer func() { registered = old }()
	var path string
	registered = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { path = r.URL.Path })
	envBuf = nil
	if rc := serve(f, 3, 0); rc != abi.HandleOK {
		t.Fatalf("serve = %d", rc)
	}
	if path != "/" || !strings.HasPrefix(strings.Join(f.calls, " "), fmt.Sprintf("environ_get(3) environ_get(%d)", len(f.environ))) {
		t.Errorf("path %q, calls %v", path, f.calls)
	}
}

func TestBody(t *testing.T) {
	var got []byte
	var err error
	var cl int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl = r.ContentLength
		got, err = io.ReadAll(r.Body)
	})
	f := &fakeHost{body: []byte("hello body")}
	run(t, h, f, abi.FlagHasBody, "CONTENT_LENGTH", "10")
	if string(got) != "hello body" || err != nil || cl != 10 {
		t.Errorf("body %q, err %v, ContentLength %d", got, err, cl)
	}

	f = &fakeHost{body: []byte("chunked"), bodyErr: abi.ErrBodyTooLarge}
	run(t, h, f, abi.FlagHasBody)
	if cl != -1 || string(got) != "chunked" {
		t.Errorf("ContentLength %d, body %q", cl, got)
	}
	var mbe *http.MaxBytesError
	if !errors.Is(err, ErrBodyTooLarge) || !errors.As(err, &mbe) || !strings.Contains(err.Error(), "request body too large") {
		t.Errorf("too large: err = %v", err)
	}

	f = &fakeHost{bodyErr: abi.ErrIO}
	run(t, h, f, abi.FlagHasBody)
	if err == nil || !strings.Contains(err.Error(), abi.ErrnoString(abi.ErrIO)) {
		t.Errorf("ErrIO: err = %v", err)
	}
}

func TestHelloResponse(t *testing.T) {
	f := &fakeHost{}
	rc := run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello, world\n"))
	}), f, 0)
	if rc != abi.HandleOK || f.status != 200 || f.out.String() != "Hello, world\n" {
		t.Fatalf("rc %d status %d body %q", rc, f.status, f.out.String())
	}
	if ct := f.headers.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	want := []string{fmt.Sprintf("environ_get(%d)", len(f.environ)), "start_response(200)", "body_write(13)"}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("calls %v, want %v", f.calls, want)
	}
}

func TestEmptyResponse(t *testing.T) {
	f := &fakeHost{}
	run(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), f, 0)
	if f.status != 200 || len(f.headers) != 0 || f.out.Len() != 0 {
		t.Errorf("status %d headers %v body %q", f.status, f.headers, f.out.String())
	}
}

func TestHeadersAndStatus(t *testing.T) {
	f := &fakeHost{}
	run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusContinue) // ignored
		w.WriteHeader(http.StatusCreated)
		w.WriteHeader(http.StatusTeapot) // superfluous
		w.Header().Set("X-Late", "ignored, as in net/http")
		io.WriteString(w, "{}")
	}), f, 0)
	want := http.Header{"Set-Cookie": {"a=1", "b=2"}, "Content-Type": {"application/json"}}
	if f.status != 201 || !reflect.DeepEqual(f.headers, want) || f.out.String() != "{}" {
		t.Errorf("status %d headers %v body %q", f.status, f.headers, f.out.String())
	}
	if len(f.logs) != 1 || !strings.Contains(f.logs[0], "superfluous") {
		t.Errorf("logs %v", f.logs)
	}
}

func TestWriteErrors(t *testing.T) {
	var errs []error
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		_, err1 := w.Write([]byte("ab"))
		_, err2 := w.Write([]byte("cd"))
		errs = []error{err1, err2}
	})
	run(t, h, &fakeHost{}, 0)
	if errs[0] != nil || errs[1] != http.ErrContentLength {
		t.Errorf("Content-Length: %v", errs)
	}

	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		_, err := w.Write([]byte("x"))
		errs = []error{err}
	})
	run(t, h, &fakeHost{}, 0)
	if errs[0] != http.ErrBodyNotAllowed {
		t.Errorf("204: %v", errs)
	}
}

func TestLargeAndFlushedWrites(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100<<10)
	f := &fakeHost{}
	run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>"))    // buffered
		w.Write(big[:outBufSize])    // tops the buffer up and sends it; 6 bytes stay
		w.Write(big)                 // tops up and sends again; the rest goes straight out
		w.(http.Flusher).Flush()     // nothing buffered: just the flush
		io.WriteString(w, "after\n") // buffered until return
	}), f, 0)
	want := []string{"start_response(200)", "body_write(16384)", "body_write(16384)", "body_write(86022)", "body_flush", "body_write(6)"}
	if !reflect.DeepEqual(f.calls[1:], want) {
		t.Errorf("calls %v, want %v", f.calls[1:], want)
	}
	if f.out.Len() != 6+outBufSize+len(big)+6 {
		t.Errorf("body length %d", f.out.Len())
	}
	if ct := f.headers.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("sniffed Content-Type %q", ct)
	}
}

func TestFlushBeforeWrite(t *testing.T) {
	f := &fakeHost{}
	run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Error(err)
		}
		w.Write([]byte("late"))
	}), f, 0)
	if f.status != 200 || f.headers.Get("Content-Type") != "" || f.out.String() != "late" {
		t.Errorf("status %d headers %v body %q", f.status, f.headers, f.out.String())
	}
}

func TestClientGone(t *testing.T) {
	var errs []error
	f := &fakeHost{writeRC: abi.ErrClosed}
	run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("a"))
		errs = append(errs, http.NewResponseController(w).Flush())
		_, err := w.Write([]byte("b"))
		errs = append(errs, err)
	}), f, 0)
	if errs[0] != ErrClientGone || errs[1] != ErrClientGone {
		t.Errorf("errors %v", errs)
	}
	if n := strings.Count(strings.Join(f.calls, " "), "body_write"); n != 1 {
		t.Errorf("host called after the client left: %v", f.calls)
	}
}

func TestInvalidHeader(t *testing.T) {
	f := &fakeHost{startRC: []int32{abi.ErrInvalid}}
	var err error
	run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Bad", "a\nb")
		w.Write([]byte("hello"))
		_, err = w.Write(bytes.Repeat([]byte("x"), outBufSize))
	}), f, 0)
	if f.status != 500 || len(f.headers) != 0 || f.out.Len() != 0 || err == nil {
		t.Errorf("status %d headers %v body %q err %v", f.status, f.headers, f.out.String(), err)
	}
	if len(f.logs) != 1 || !strings.Contains(f.logs[0], `invalid response header "X-Bad: a\nb"`) {
		t.Errorf("logs %q", f.logs)
	}
}

func TestPanic(t *testing.T) {
	var buf bytes.Buffer
	defer func(old io.Writer) { stderr = old }(stderr)
	stderr = &buf
	f := &fakeHost{}
	rc := run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		panic("boom")
	}), f, 0)
	if rc != abi.HandleFailed || f.status != 0 || f.out.Len() != 0 {
		t.Errorf("rc %d status %d body %q", rc, f.status, f.out.String())
	}
	if !strings.HasPrefix(buf.String(), "panic: boom\n\ngoroutine ") {
		t.Errorf("stderr %q", buf.String())
	}

	buf.Reset()
	rc = run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}), f, 0)
	if rc != abi.HandleFailed || buf.Len() != 0 {
		t.Errorf("ErrAbortHandler: rc %d, stderr %q", rc, buf.String())
	}
}

func TestNoHandler(t *testing.T) {
	f := &fakeHost{}
	run(t, nil, f, 0)
	if f.status != 500 || f.out.String() != noHandlerMessage || len(f.logs) != 1 {
		t.Errorf("status %d body %q logs %v", f.status, f.out.String(), f.logs)
	}
}

func TestStaleUse(t *testing.T) {
	var w http.ResponseWriter
	var r *http.Request
	f := &fakeHost{body: []byte("unread")}
	run(t, http.HandlerFunc(func(w0 http.ResponseWriter, r0 *http.Request) { w, r = w0, r0 }), f, abi.FlagHasBody)
	calls := len(f.calls)
	if _, err := w.Write([]byte("x")); err != errHandlerDone {
		t.Errorf("Write after return: %v", err)
	}
	if _, err := r.Body.Read(make([]byte, 4)); err == nil {
		t.Error("Body.Read after return succeeded")
	}
	if len(f.calls) != calls {
		t.Errorf("stale use reached the host: %v", f.calls[calls:])
	}
}

func TestAllocs(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("Hello, world\n")) })
	f := &fakeHost{}
	run(t, h, f, 0) // warm the reused buffers
	old := registered
	registered = h
	defer func() { registered = old }()
	quiet := &quietHost{environ: f.environ}
	allocs := testing.AllocsPerRun(100, func() { serve(quiet, int32(len(quiet.environ)), 0) })
	// A request, its environ, header maps, context and writer: about ten.
	if allocs > 12 {
		t.Errorf("%v allocations per hello request", allocs)
	}
	t.Logf("%v allocations per hello request", allocs)
}

// quietHost is a fakeHost that records nothing, for counting allocations.
type quietHost struct{ environ []byte }

func (q *quietHost) environGet(buf []byte) int32 { copy(buf, q.environ); return int32(len(q.environ)) }
func (*quietHost) bodyRead([]byte) int32         { return 0 }
func (*quietHost) startResponse(int32, []byte) int32 {
	return 0
}
func (*quietHost) bodyWrite([]byte) int32 { return 0 }
func (*quietHost) bodyFlush() int32       { return 0 }
func (*quietHost) log(int32, string)      {}

func BenchmarkServeHello(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("Hello, world\n")) })
	old := registered
	registered = h
	defer func() { registered = old }()
	q := &quietHost{environ: encodeEnviron(append(baseEnviron, "HTTP_USER_AGENT", "bench", "wasmhost.plugin", "hello")...)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ { // not b.Loop: the module says go 1.21
		serve(q, int32(len(q.environ)), 0)
	}
}

func TestDetectContentTypeCache(t *testing.T) {
	samples := []string{"Hello", "<html>", "Hello", "", "%PDF-1.4", "<html>", strings.Repeat("a", 600), strings.Repeat("a", 512) + "\x00"}
	for _, s := range samples {
		if got, want := detectContentType([]byte(s)), http.DetectContentType([]byte(s)); got != want {
			t.Errorf("detectContentType(%.20q) = %q, want %q", s, got, want)
		}
	}
}

func TestMalformedEnviron(t *testing.T) {
	f := &fakeHost{}
	f.environ = append(encodeEnviron("REQUEST_METHOD", "POST", "PATH_INFO", "/x"), 9, 0, 0, 0, 'a')
	old := registered
	defer func() { registered = old }()
	var method, path string
	registered = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { method, path = r.Method, r.URL.Path })
	if rc := serve(f, int32(len(f.environ)), 0); rc != abi.HandleOK {
		t.Fatalf("serve = %d", rc)
	}
	if method != "POST" || path != "/x" || len(f.logs) != 1 || !strings.Contains(f.logs[0], "malformed environ") {
		t.Errorf("method %q path %q logs %v", method, path, f.logs)
	}
}

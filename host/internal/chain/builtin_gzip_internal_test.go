package chain

import (
	"testing"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/builtins"
)

// recordSink is a Sink that keeps what reaches it.
type recordSink struct {
	starts int
	status int32
	body   []byte
}

func (r *recordSink) StartResponse(status int32, headers []byte) int32 {
	r.starts++
	r.status = status
	return 0
}
func (r *recordSink) WriteBody(p []byte) int32 { r.body = append(r.body, p...); return 0 }
func (r *recordSink) Flush() int32             { return 0 }

// TestGzipRefusesABadHeadAtOnce: under gzip a compressible response's head
// is held until the body shows whether to compress, yet a start_response
// with bad headers or status fails there and then, as it does without
// gzip, instead of at the body_write that would send the head.
func TestGzipRefusesABadHeadAtOnce(t *testing.T) {
	text := abi.AppendPair(nil, "Content-Type", "text/html")
	for _, c := range []struct {
		name    string
		status  int32
		headers []byte
	}{
		{"header injection", 200, abi.AppendPair(text, "X-Note", "a\r\nSet-Cookie: x=1")},
		{"bad header name", 200, abi.AppendPair(text, "Bad Name", "v")},
		{"two Content-Lengths", 200, abi.AppendPair(abi.AppendPair(text, "Content-Length", "1"), "Content-Length", "2")},
		{"status below 200", 100, text},
	} {
		out := &recordSink{}
		g := &gzipSink{out: out, accepts: true}
		if rc := g.StartResponse(c.status, c.headers); rc != abi.ErrInvalid {
			t.Errorf("%s: start_response = %d, want ErrInvalid (%d)", c.name, rc, abi.ErrInvalid)
		}
		// The guest may try again with a good head, as without gzip.
		if rc := g.StartResponse(200, text); rc != 0 {
			t.Errorf("%s: a good start_response after the bad one = %d, want 0", c.name, rc)
		}
		if rc := g.WriteBody([]byte("hello")); rc != 0 {
			t.Errorf("%s: body_write = %d, want 0", c.name, rc)
		}
		if rc := g.finish(); rc != 0 || out.starts != 1 || out.status != 200 || string(out.body) != "hello" {
			t.Errorf("%s: finish = %d, Sink got %d heads, status %d, body %q", c.name, rc, out.starts, out.status, out.body)
		}
		g.release()
	}
}

// TestEveryBuiltinBuilds: each built-in middleware that internal/builtins
// names (and so config accepts in a middleware list) has a link, under
// its own name.
func TestEveryBuiltinBuilds(t *testing.T) {
	for _, name := range builtins.Names {
		l := newBuiltin(name)
		if l == nil {
			t.Errorf("built-in %q: no link", name)
			continue
		}
		if l.name() != name || !l.builtin() {
			t.Errorf("built-in %q: link named %q, builtin %v", name, l.name(), l.builtin())
		}
	}
	for name := range builtinLinks {
		if !builtins.Is(name) {
			t.Errorf("link for %q, which internal/builtins does not name", name)
		}
	}
	if newBuiltin("nosuch") != nil {
		t.Error("a link for an unknown name")
	}
}

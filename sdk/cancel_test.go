package sdk

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmhost/wasmhost/abi"
)

// The request's context ends when a host call says the client went away,
// and not before; contexts derived from it end with it.
func TestClientGoneCancelsTheRequestContext(t *testing.T) {
	for _, how := range []string{"write", "flush", "read"} {
		t.Run(how, func(t *testing.T) {
			f := &fakeHost{body: []byte("x"), bodyErr: abi.ErrClosed}
			var before, after, derived error
			var werr error
			var doneClosed bool
			result := run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				before = r.Context().Err()
				done := r.Context().Done()
				switch how {
				case "write":
					f.writeRC = abi.ErrClosed
					w.Write(make([]byte, outBufSize+1)) // past the buffer: a body_write
					_, werr = w.Write([]byte("more"))
				case "flush":
					f.flushRC = abi.ErrClosed
					w.Write([]byte("a"))
					werr = http.NewResponseController(w).Flush()
				case "read":
					_, werr = io.ReadAll(r.Body)
				}
				select {
				case <-done:
					doneClosed = true
				default:
				}
				after, derived = r.Context().Err(), ctx.Err()
			}), f, abi.FlagHasBody)
			if before != nil {
				t.Errorf("the context was done before the host said anything: %v", before)
			}
			if !errors.Is(werr, ErrClientGone) {
				t.Errorf("%s after the client left: %v, want ErrClientGone", how, werr)
			}
			if !doneClosed || after != context.Canceled || derived != context.Canceled {
				t.Errorf("after ErrClosed: Done closed %v, Err %v, derived context's Err %v; want closed, Canceled, Canceled", doneClosed, after, derived)
			}
			if result != abi.HandleOK {
				t.Errorf("a handler that returned after its client left: result %d, want HandleOK", result)
			}
		})
	}
}

// A handler that aborts (net/http's idiom) after the client left has
// stopped cleanly; one that aborts, or panics, otherwise has failed.
func TestAbortAfterClientGoneIsAReturn(t *testing.T) {
	abort := func(gone bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if gone {
				w.Write(make([]byte, outBufSize+1))
			}
			panic(http.ErrAbortHandler)
		}
	}
	old := stderr
	defer func() { stderr = old }()
	stderr = io.Discard
	if rc := run(t, abort(true), &fakeHost{writeRC: abi.ErrClosed}, 0); rc != abi.HandleOK {
		t.Errorf("abort after the client left: %d, want HandleOK", rc)
	}
	if rc := run(t, abort(false), &fakeHost{}, 0); rc != abi.HandleFailed {
		t.Errorf("abort with the client still there: %d, want HandleFailed", rc)
	}
	if rc := run(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, outBufSize+1))
		panic("a bug")
	}), &fakeHost{writeRC: abi.ErrClosed}, 0); rc != abi.HandleFailed {
		t.Errorf("another panic after the client left: %d, want HandleFailed", rc)
	}
}

// next.ServeHTTP returns when the request ends, so the middleware's code
// after it and its defers run, with its context done; it does not panic.
func TestRunNextReturnsWhenTheRequestEnds(t *testing.T) {
	f := &fakeChain{events: []fakeEvent{
		{kind: abi.EventHead, data: head("200")},
		{kind: abi.EventBody, data: []byte("part")},
		{kind: abi.ErrClosed},
	}}
	ec := &environContext{Context: context.Background()}
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("next panicked with %v when the request ended", v)
			}
		}()
		runNext(f, rec, httptest.NewRequest("GET", "/", nil), ec)
	}()
	if ec.Err() != context.Canceled {
		t.Errorf("the middleware's context after next_wait said ErrClosed: %v, want Canceled", ec.Err())
	}
	if rec.Body.String() != "part" {
		t.Errorf("relayed %q before the end", rec.Body.String())
	}
}

// A head cut short (the host took it back when the request ended) is the
// end of the request, not a malformed answer.
func TestRunNextReturnsOnAHeadCutShort(t *testing.T) {
	f := &shortChain{fakeChain{events: []fakeEvent{{kind: abi.EventHead, data: head("200", "X-A", "b")}}}}
	ec := &environContext{Context: context.Background()}
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("next panicked with %v on a head cut short", v)
			}
		}()
		runNext(f, httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), ec)
	}()
	if ec.Err() != context.Canceled {
		t.Errorf("after a head cut short: %v, want Canceled", ec.Err())
	}
}

// shortChain gives the first few bytes of each payload, then nothing.
type shortChain struct{ fakeChain }

func (f *shortChain) nextRead(buf []byte) int32 {
	if len(f.payload) > 3 {
		f.payload = f.payload[:3]
	}
	n := f.fakeChain.nextRead(buf)
	f.payload = nil
	return n
}

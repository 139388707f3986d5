package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/kv"
	"github.com/wasmhost/wasmhost/internal/outbound"
)

// The fakes behind FuzzHostFunctions. Each fails the test when a host
// function hands it more than the ABI's limits allow or data the host
// promised to have checked: they are where the fuzz property is observed.

// checkingExchange is an Exchange, and a ChainExchange and CookieExchange,
// so every host function reaches it.
type checkingExchange struct {
	t    testing.TB
	body []byte

	// The chain: started says next_start ran; events are what next_wait
	// hands out, in order. payload (for next_read) and wanted (for
	// next_body; -1 once answered) are both outstanding at once, which a
	// real chain never has, so that a single call of either reaches the
	// exchange.
	started bool
	events  []fakeEvent
	payload []byte
	wanted  int
}

type fakeEvent struct {
	kind int32
	size uint32
}

// fakeHead is the downstream response head next_read reads.
var fakeHead = abi.AppendPair(abi.AppendPair(nil, abi.NextStatus, "200"), "Content-Type", "text/plain")

func newCheckingExchange(t testing.TB) *checkingExchange {
	return &checkingExchange{
		t:       t,
		body:    []byte("request body"),
		events:  []fakeEvent{{abi.EventHead, uint32(len(fakeHead))}, {abi.EventBodyWanted, 64}, {abi.EventBody, 5}, {abi.EventDone, 0}},
		payload: fakeHead,
		wanted:  64,
	}
}

func (e *checkingExchange) Environ() []byte {
	return abi.AppendPair(abi.AppendPair(nil, abi.KeyRequestMethod, "GET"), abi.KeyPathInfo, "/fuzz")
}

func (e *checkingExchange) ReadBody(p []byte) int32 {
	n := copy(p, e.body)
	e.body = e.body[n:]
	return int32(n)
}

func (e *checkingExchange) StartResponse(status int32, h []byte) int32 {
	if len(h) > abi.MaxHeaderBytes || !abi.ValidPairs(h) {
		e.t.Errorf("start_response passed %d bytes of headers (valid %v)", len(h), abi.ValidPairs(h))
	}
	return 0
}

func (e *checkingExchange) WriteBody(p []byte) int32 {
	if len(p) > abi.MaxWriteBytes {
		e.t.Errorf("body_write passed %d bytes", len(p))
	}
	return 0
}

func (e *checkingExchange) Flush() int32 { return 0 }

func (e *checkingExchange) Log(rec Record) {
	// Each rune of the message is at least one byte the guest passed (an
	// invalid byte is one U+FFFD), so this bounds what was read.
	if n := utf8.RuneCountInString(rec.Message); n > abi.MaxLogBytes {
		e.t.Errorf("log passed %d runes", n)
	}
}

func (e *checkingExchange) StaticURL(path string) string {
	if len(path) > abi.MaxStaticPathBytes {
		e.t.Errorf("static_url passed %d bytes", len(path))
	}
	return "/static/" + path
}

func (e *checkingExchange) NextStart(req []byte, flags uint32) int32 {
	if len(req) > abi.MaxHeaderBytes || !abi.ValidPairs(req) {
		e.t.Errorf("next_start passed %d bytes of request (valid %v)", len(req), abi.ValidPairs(req))
	}
	if e.started {
		return abi.ErrState
	}
	e.started = true
	return 0
}

func (e *checkingExchange) NextWait() (int32, uint32) {
	if len(e.events) == 0 {
		return abi.ErrState, 0
	}
	ev := e.events[0]
	e.events = e.events[1:]
	return ev.kind, ev.size
}

func (e *checkingExchange) NextRead(p []byte) int32 {
	if len(p) > 1<<30 {
		e.t.Errorf("next_read passed a buffer of %d bytes, more than an i32 count can report", len(p))
	}
	n := copy(p, e.payload)
	e.payload = e.payload[n:]
	return int32(n)
}

func (e *checkingExchange) NextBody(p []byte, errno int32) int32 {
	switch {
	case len(p) > abi.MaxWriteBytes:
		e.t.Errorf("next_body passed %d bytes", len(p))
	case errno > 0:
		e.t.Errorf("next_body passed errno %d, not an errno", errno)
	case errno < 0 && len(p) > 0:
		e.t.Errorf("next_body passed %d bytes with errno %d", len(p), errno)
	}
	// The exchange's own checks, as the real one does them: the host
	// leaves them to it.
	if e.wanted < 0 {
		return abi.ErrState
	}
	if errno == 0 && len(p) > e.wanted {
		return abi.ErrInvalid
	}
	e.wanted = -1 // answered
	return 0
}

func (e *checkingExchange) checkCookie(fn, what, s string) {
	if len(s) > abi.MaxCookieBytes {
		e.t.Errorf("%s passed a %s of %d bytes", fn, what, len(s))
	}
}

// fakeSignature is what the fake signs with; no secret is needed to check
// what the host passes through.
func fakeSignature(name, value string) string { return value + "|signed-for-" + name }

func (e *checkingExchange) SignCookie(name, value string) (string, int32) {
	e.checkCookie(abi.ImportCookieSign, "name", name)
	e.checkCookie(abi.ImportCookieSign, "value", value)
	return fakeSignature(name, value), 0
}

func (e *checkingExchange) VerifyCookie(name, signed string) (string, int32) {
	e.checkCookie(abi.ImportCookieVerify, "name", name)
	e.checkCookie(abi.ImportCookieVerify, "signed value", signed)
	value, ok := strings.CutSuffix(signed, "|signed-for-"+name)
	if !ok {
		return "", abi.ErrInvalid
	}
	return value, 0
}

func (e *checkingExchange) XSRFToken() (string, int32) { return "fake-xsrf-token", 0 }

// fakeServices are the abicall plugin's services. The plugin is loaded
// once per engine and outlives each test, and the outbound round trip runs
// on a goroutine of its own, so the fakes record problems here rather than
// failing a test that may be over; callHost reports them.
type fakeServices struct {
	client *outbound.Client
	rules  outbound.Rules

	mu       sync.Mutex
	problems []string
}

// fakeAllowedHost is the one destination the fake's allowed_hosts name.
const fakeAllowedHost = "fuzz.test"

func newFakeServices() *fakeServices {
	rule, err := outbound.ParseRule("http://" + fakeAllowedHost)
	if err != nil {
		panic(err)
	}
	s := &fakeServices{rules: outbound.Rules{rule}}
	s.client, err = outbound.NewClient(s.rules, "")
	if err != nil {
		panic(err)
	}
	// The resolver is the client's first step towards the network: an
	// answer that fails keeps every request off it, and what it is asked
	// shows what got past the sandbox's checks.
	s.client.Resolver = fakeResolver{s}
	return s
}

func (s *fakeServices) report(format string, args ...any) {
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *fakeServices) drain() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.problems
	s.problems = nil
	return p
}

func (s *fakeServices) Store(name string) (Store, error) {
	if len(name) > abi.MaxKVKeyBytes {
		s.report("kv_open passed a store name of %d bytes", len(name))
	}
	if name != "fuzz" {
		return nil, fmt.Errorf("key-value store %q is not granted", name)
	}
	return newFakeStore(s), nil
}

func (s *fakeServices) Outbound() Outbound { return s.client }

type fakeResolver struct{ s *fakeServices }

var errNoNetwork = errors.New("fake resolver: this test never reaches the network")

func (r fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if !r.s.rules.Allows("http", host, 80) {
		r.s.report("the outbound client resolved %q, which allowed_hosts does not allow", host)
	}
	return nil, errNoNetwork
}

// heldValue is under "held" in every fake store: callHost gets it with a
// buffer too small, so result_get has something to copy.
const heldValue = "a value held for result_get"

// fakeStore is an in-memory kv.Store, fresh for each instance (kv_open
// asks for it once per instance), so the fuzzer cannot grow it forever.
// Only that instance's calls use it, one at a time: it needs no lock.
type fakeStore struct {
	s    *fakeServices
	data map[string][]byte
	kept []keptValue
}

// keptValue is a value the store kept, with a copy: if the host handed the
// store guest memory instead of a copy, scribbling over the guest's memory
// shows it.
type keptValue struct{ kept, copy []byte }

func newFakeStore(s *fakeServices) *fakeStore {
	return &fakeStore{s: s, data: map[string][]byte{
		"held": []byte(heldValue),
		"n":    []byte("41"),
		"text": []byte("not a number"),
		"a/1":  []byte("one"),
		"a/2":  []byte("two"),
	}}
}

func (st *fakeStore) checkKey(op, key string) {
	if err := kv.CheckKey(key); err != nil {
		st.s.report("kv %s passed key %q: %s", op, key, err)
	}
}

func (st *fakeStore) checkValue(op, what string, v []byte) {
	if len(v) > abi.MaxKVValueBytes {
		st.s.report("kv %s passed a %s of %d bytes", op, what, len(v))
	}
}

func (st *fakeStore) keep(v []byte) {
	st.kept = append(st.kept, keptValue{v, bytes.Clone(v)})
}

// checkKept reports a kept value that changed with guest memory.
func (st *fakeStore) checkKept() {
	for _, k := range st.kept {
		if !bytes.Equal(k.kept, k.copy) {
			st.s.report("a kv value changed after the call (%q, was %q): the host handed the store guest memory", k.kept, k.copy)
		}
	}
}

func (st *fakeStore) Get(_ context.Context, key string) ([]byte, error) {
	st.checkKey("get", key)
	v, ok := st.data[key]
	if !ok {
		return nil, kv.ErrNotFound
	}
	return v, nil
}

func (st *fakeStore) GetMany(_ context.Context, keys []string) (map[string][]byte, error) {
	if len(keys) > abi.MaxKVGetManyKeys {
		st.s.report("kv get_many passed %d keys", len(keys))
	}
	found := map[string][]byte{}
	for _, k := range keys {
		st.checkKey("get_many", k)
		if v, ok := st.data[k]; ok {
			found[k] = v
		}
	}
	return found, nil
}

func (st *fakeStore) Set(_ context.Context, key string, value []byte) error {
	st.checkKey("set", key)
	st.checkValue("set", "value", value)
	st.keep(value)
	st.data[key] = value
	return nil
}

func (st *fakeStore) Delete(_ context.Context, key string) error {
	st.checkKey("delete", key)
	delete(st.data, key)
	return nil
}

func (st *fakeStore) Exists(_ context.Context, key string) (bool, error) {
	st.checkKey("exists", key)
	_, ok := st.data[key]
	return ok, nil
}

func (st *fakeStore) Keys(_ context.Context, prefix string) ([]string, error) {
	// A prefix need not be a key (empty lists them all), but it is bounded.
	if len(prefix) > abi.MaxKVKeyBytes {
		st.s.report("kv keys passed a prefix of %d bytes", len(prefix))
	}
	var keys []string
	for k := range st.data {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func (st *fakeStore) Increment(_ context.Context, key string, delta int64) (int64, error) {
	st.checkKey("increment", key)
	var n int64
	if v, ok := st.data[key]; ok {
		var err error
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return 0, kv.ErrNotInteger
		}
	}
	n += delta
	st.data[key] = []byte(strconv.FormatInt(n, 10))
	return n, nil
}

func (st *fakeStore) CompareAndSwap(_ context.Context, key string, old, new []byte) (bool, error) {
	st.checkKey("cas", key)
	st.checkValue("cas", "old value", old)
	st.checkValue("cas", "new value", new)
	st.keep(new)
	cur, present := st.data[key]
	if old == nil && present || old != nil && (!present || !bytes.Equal(cur, old)) {
		return false, nil
	}
	st.data[key] = new
	return true, nil
}

func (st *fakeStore) Close() error { return nil }

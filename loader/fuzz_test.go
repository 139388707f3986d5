package loader

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// The engines recover a host function's panic and return it as an error
// from the guest call, the way they return a trap: a host bug (a nil
// dereference, an index out of range) would pass for a trap the fuzz
// expects. In the test binary every host function therefore records a
// panic that is not a trap, for callHost to report. This runs after the
// package's own init functions (go test compiles the test files after the
// others), so the table is complete; TestHostFunctionsNumbering checks.
var (
	hostPanicsMu sync.Mutex
	hostPanics   []string
	watched      = map[string]bool{}
)

func init() {
	for i, f := range hostFunctions {
		fn, name := f.fn, f.name
		watched[name] = true
		hostFunctions[i].fn = func(ctx context.Context, mem guestMemory, stack []uint64) {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(*trap); !ok {
						hostPanicsMu.Lock()
						hostPanics = append(hostPanics, fmt.Sprintf("host function %s panicked: %v\n%s", name, r, debug.Stack()))
						hostPanicsMu.Unlock()
					}
					panic(r)
				}
			}()
			fn(ctx, mem, stack)
		}
	}
}

func drainHostPanics() []string {
	hostPanicsMu.Lock()
	defer hostPanicsMu.Unlock()
	p := hostPanics
	hostPanics = nil
	return p
}

// abicallPlugins holds the abicall plugin loaded once per engine.
var abicallPlugins sync.Map // engine name -> *loadOnce

// abicallServices are the services of the abicall plugins, shared by the
// engines: a plugin's services come with its Config.
var abicallServices = sync.OnceValue(newFakeServices)

type loadOnce struct {
	once sync.Once
	p    *Plugin
	err  error
}

func abicallPlugin(t testing.TB, engine string) *Plugin {
	path := testutil.Plugin(t, "plugins/testplugins/abicall")
	v, _ := abicallPlugins.LoadOrStore(engine, &loadOnce{})
	lo := v.(*loadOnce)
	lo.once.Do(func() {
		l, err := New(Options{CacheDir: testutil.CacheDir(t)})
		if err != nil {
			lo.err = err
			return
		}
		lo.p, lo.err = l.Load(context.Background(), Config{Name: "abicall", Path: path, Instances: 1, Engine: engine, Services: abicallServices()})
	})
	if lo.err != nil {
		t.Fatal(lo.err)
	}
	return lo.p
}

// testMemory is what the tests do to guest memory beyond what host
// functions do; both engines' memories have these methods.
type testMemory interface {
	Grow(deltaPages uint32) (previousPages uint32, ok bool)
	Write(offset uint32, v []byte) bool
}

// pointerArgs says which arguments of each host function are pointers, by
// the abicall plugin's numbering: a host function's number is its index in
// abi.Imports (0 environ_get, 1 body_read, 2 start_response, 3 body_write,
// 4 body_flush, 5 log, 6 static_url, 7 result_get, 8 kv_open, 9 kv_get,
// 10 kv_set, 11 kv_delete, 12 kv_exists, 13 kv_keys, 14 kv_increment,
// 15 kv_cas, 16 http_request, 17 http_body_write, 18 http_body_close,
// 19 http_response, 20 http_body_read, 21 http_close, 22 next_start,
// 23 next_wait, 24 next_read, 25 next_body, 26 cookie_sign,
// 27 cookie_verify, 28 xsrf_token, 29 kv_get_many, 30 conn_send,
// 31 conn_set, 32 conn_close, 33 conn_subscribe, 34 conn_unsubscribe,
// 35 pubsub_publish, 36 pubsub_send_to, 37 serve_events). Argument i is
// parameter i.
var pointerArgs = [...][]int{
	0: {0}, 1: {0}, 2: {1}, 3: {0}, 4: nil, 5: {1}, 6: {0, 2},
	7: {0}, 8: {0}, 9: {1, 3}, 10: {1, 3}, 11: {1}, 12: {1}, 13: {1, 3}, 14: {1, 4}, 15: {1, 3, 5},
	16: {0}, 17: {1}, 18: nil, 19: {1}, 20: {1}, 21: nil,
	22: {0}, 23: {0}, 24: {0}, 25: {0}, 26: {0, 2, 4}, 27: {0, 2, 4}, 28: {0},
	29: {1, 3},
	30: {0}, 31: {0, 2}, 32: {1}, 33: {0}, 34: {0}, 35: {0, 2}, 36: {0, 2}, 37: {0},
}

// fnNumber is the abicall number of an import.
func fnNumber(name string) uint8 {
	i := slices.Index(abi.Imports, name)
	if i < 0 {
		panic("no import " + name)
	}
	return uint8(i)
}

const pageSize = 65536

// setupHead is the outbound request callHost opens before each call.
var setupHead = abi.AppendPair(abi.AppendPair(nil, ":method", "POST"), ":url", "http://"+fakeAllowedHost+"/upload")

var scribble = bytes.Repeat([]byte{0xa5}, 2*pageSize)

// callHost runs host function fn (see pointerArgs) from inside a fresh
// instance, with mem written to a fresh page of guest memory first. With
// relative set, pointer arguments below 64 KiB are offsets into that page.
// Before the call, handle 1 is made to name both a store (kv_open) and an
// outbound request (http_request, with a body), and result_get to hold a
// value, so the call reaches past the handle checks. It returns the host
// function's result and the page after the call, or the error that ended
// the call; it fails the test on whatever the fakes or the host-panic
// watch recorded.
func callHost(t testing.TB, p *Plugin, mem []byte, fn uint8, relative bool, args [8]int32) (int32, []byte, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inst, err := p.pool.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := inst.mem.(testMemory)
	pages, ok := m.Grow(2)
	if !ok {
		t.Fatal("cannot grow guest memory")
	}
	base, setup := pages*pageSize, pages*pageSize+pageSize
	if len(mem) > pageSize {
		mem = mem[:pageSize]
	}
	m.Write(base, mem)
	m.Write(setup, []byte("fuzz"))
	m.Write(setup+8, []byte("held"))
	m.Write(setup+16, setupHead)
	fn %= uint8(len(pointerArgs))
	if relative {
		for _, i := range pointerArgs[fn] {
			if uint32(args[i]) < pageSize {
				args[i] += int32(base)
			}
		}
	}
	inst.ex = newCheckingExchange(t)
	cctx := &callContext{Context: ctx, inst: inst}
	call := func(fn uint8, args [8]int32) (int32, error) {
		stack := make([]uint64, 1+len(args))
		stack[0] = uint64(fn)
		for i, a := range args {
			stack[i+1] = uint64(uint32(a))
		}
		err := inst.mod.function("abicall").CallWithStack(cctx, stack)
		return int32(uint32(stack[0])), err
	}
	for _, s := range []struct {
		name string
		args [8]int32
		want int32
	}{
		{abi.ImportKVOpen, [8]int32{int32(setup), 4}, 1},
		{abi.ImportHTTPRequest, [8]int32{int32(setup + 16), int32(len(setupHead)), abi.HTTPHasBody}, 1},
		{abi.ImportKVGet, [8]int32{1, int32(setup + 8), 4, 0, 0}, int32(len(heldValue))},
	} {
		if res, err := call(fnNumber(s.name), s.args); res != s.want || err != nil {
			t.Fatalf("setup: %s = %d, %v; want %d", s.name, res, err, s.want)
		}
	}
	var reqs []*outboundRequest
	collect := func() {
		for _, r := range inst.svc.requests {
			if !slices.Contains(reqs, r) {
				reqs = append(reqs, r)
			}
		}
	}
	collect()

	res, err := call(fn, args)
	inst.ex = nil
	collect()
	var after []byte
	if err == nil {
		b, _ := inst.mem.Read(base, pageSize)
		after = bytes.Clone(b)
	}
	m.Write(base, scribble)
	for _, s := range inst.svc.stores {
		if st, ok := s.Store.(*fakeStore); ok {
			st.checkKept()
		}
	}
	// The fresh pages stay with the instance; discard it so the next call
	// starts from clean ones, whatever happened.
	p.pool.discard(inst)
	// The end of the request, which ends its outbound requests; waiting
	// for them lets the resolver's reports land in this call's test (a
	// dial the transport abandons may still report in the next one).
	cancel()
	for _, r := range reqs {
		<-r.done
	}
	for _, msg := range abicallServices().drain() {
		t.Error(msg)
	}
	for _, msg := range drainHostPanics() {
		t.Error(msg)
	}
	return res, after, err
}

// resultOK reports whether res is a result host function name may give:
// a size or count, a handle, a boolean, an event, or an errno of the ABI.
func resultOK(name string, res int32) bool {
	if res < 0 {
		return abi.ErrnoString(res) != "unknown error"
	}
	switch name {
	case abi.ImportKVOpen, abi.ImportHTTPRequest:
		return res > 0
	case abi.ImportKVExists, abi.ImportKVCompareAndSwap:
		return res <= 1
	case abi.ImportNextWait:
		return res >= abi.EventBodyWanted && res <= abi.EventDone
	}
	return true
}

// TestHostFunctionsNumbering ties the fuzz's numbering to the host's
// table: every host function is reachable through abicall, with pointer
// arguments it really has, and watched for panics.
func TestHostFunctionsNumbering(t *testing.T) {
	if len(pointerArgs) != len(abi.Imports) || len(hostFunctions) != len(abi.Imports) || len(watched) != len(hostFunctions) {
		t.Fatalf("%d pointerArgs entries, %d imports, %d host functions, %d watched", len(pointerArgs), len(abi.Imports), len(hostFunctions), len(watched))
	}
	for _, f := range hostFunctions {
		fn := slices.Index(abi.Imports, f.name)
		if fn < 0 {
			t.Errorf("host function %s is not in abi.Imports", f.name)
			continue
		}
		if len(f.params) > 8 {
			t.Errorf("%s takes %d parameters; abicall passes 8", f.name, len(f.params))
		}
		for _, i := range pointerArgs[fn] {
			if i >= len(f.params) || f.params[i] != i32 {
				t.Errorf("%s: pointer argument %d is not an i32 parameter", f.name, i)
			}
		}
	}
}

func TestHostFunctionsTrapBadPointers(t *testing.T) {
	for _, engine := range Engines() {
		t.Run(engine, func(t *testing.T) { testHostFunctionsTrapBadPointers(t, engine) })
	}
}

func testHostFunctionsTrapBadPointers(t *testing.T, engine string) {
	p := abicallPlugin(t, engine)
	far := int32(0x7ffffff0)
	// With relative set, 0..63 KiB are offsets into the fresh page and far
	// stays far. Handle 1 names the store and the outbound request.
	cases := []struct {
		name string
		mem  string
		fn   string
		args [8]int32
	}{
		{"environ_get far", "", abi.ImportEnvironGet, [8]int32{far, 1 << 20}},
		{"body_read far", "", abi.ImportBodyRead, [8]int32{far, 1024}},
		{"start_response far headers", "", abi.ImportStartResponse, [8]int32{200, far, 64}},
		{"start_response huge headers", "", abi.ImportStartResponse, [8]int32{200, 0, 0x7fffffff}},
		{"start_response past the end", "", abi.ImportStartResponse, [8]int32{200, far, 1}},
		{"body_write far", "", abi.ImportBodyWrite, [8]int32{far, 10}},
		{"body_write over the limit", "", abi.ImportBodyWrite, [8]int32{0, abi.MaxWriteBytes + 1}},
		{"log negative length", "", abi.ImportLog, [8]int32{2, 16, -1}},
		{"static_url far buffer", "", abi.ImportStaticURL, [8]int32{0, 8, far, 64}},
		{"static_url huge path", "", abi.ImportStaticURL, [8]int32{0, abi.MaxStaticPathBytes + 1, 0, 64}},
		{"result_get far", "", abi.ImportResultGet, [8]int32{far, 1 << 20}},
		{"kv_open far", "", abi.ImportKVOpen, [8]int32{far, 4}},
		{"kv_open huge name", "", abi.ImportKVOpen, [8]int32{0, abi.MaxKVKeyBytes + 1}},
		{"kv_get far key", "", abi.ImportKVGet, [8]int32{1, far, 4, 0, 0}},
		{"kv_get far buffer", "held", abi.ImportKVGet, [8]int32{1, 0, 4, far, 1 << 20}},
		{"kv_set far value", "key", abi.ImportKVSet, [8]int32{1, 0, 3, far, 10}},
		{"kv_set huge value", "key", abi.ImportKVSet, [8]int32{1, 0, 3, 0, abi.MaxKVValueBytes + 1}},
		{"kv_delete far key", "", abi.ImportKVDelete, [8]int32{1, far, 4}},
		{"kv_exists far key", "", abi.ImportKVExists, [8]int32{1, far, 4}},
		{"kv_keys far prefix", "", abi.ImportKVKeys, [8]int32{1, far, 4, 0, 0}},
		{"kv_keys far buffer", "", abi.ImportKVKeys, [8]int32{1, 0, 0, far, 1 << 20}},
		{"kv_get_many far keys", "", abi.ImportKVGetMany, [8]int32{1, far, 8, 0, 0}},
		{"kv_get_many huge keys", "", abi.ImportKVGetMany, [8]int32{1, 0, 1 << 30, 0, 0}},
		{"kv_increment far out", "n", abi.ImportKVIncrement, [8]int32{1, 0, 1, 1, far}},
		{"kv_cas far old", "key", abi.ImportKVCompareAndSwap, [8]int32{1, 0, 3, far, 4, 0, 3, 0}},
		{"kv_cas far new", "key", abi.ImportKVCompareAndSwap, [8]int32{1, 0, 3, 0, 3, far, 4, abi.KVOldAbsent}},
		{"kv_cas huge new", "key", abi.ImportKVCompareAndSwap, [8]int32{1, 0, 3, 0, 3, 0, abi.MaxKVValueBytes + 1, 0}},
		{"http_request far head", "", abi.ImportHTTPRequest, [8]int32{far, 64, 0}},
		{"http_request huge head", "", abi.ImportHTTPRequest, [8]int32{0, abi.MaxHeaderBytes + 1, 0}},
		{"http_body_write far", "", abi.ImportHTTPBodyWrite, [8]int32{1, far, 10}},
		{"http_body_write over the limit", "", abi.ImportHTTPBodyWrite, [8]int32{1, 0, abi.MaxHTTPBodyChunk + 1}},
		{"http_body_read far", "", abi.ImportHTTPBodyRead, [8]int32{1, far, 10}},
		{"next_start far", "", abi.ImportNextStart, [8]int32{far, 16, 0}},
		{"next_start huge request", "", abi.ImportNextStart, [8]int32{0, abi.MaxHeaderBytes + 1, 0}},
		{"next_wait far", "", abi.ImportNextWait, [8]int32{far}},
		{"next_read far", "", abi.ImportNextRead, [8]int32{far, 16}},
		{"next_body far", "", abi.ImportNextBody, [8]int32{far, 16}},
		{"next_body over the limit", "", abi.ImportNextBody, [8]int32{0, abi.MaxWriteBytes + 1}},
		{"cookie_sign far name", "", abi.ImportCookieSign, [8]int32{far, 4, 0, 4, 0, 64}},
		{"cookie_sign far value", "", abi.ImportCookieSign, [8]int32{0, 4, far, 4, 0, 64}},
		{"cookie_sign far buffer", "n", abi.ImportCookieSign, [8]int32{0, 1, 0, 1, far, 64}},
		{"cookie_sign huge value", "", abi.ImportCookieSign, [8]int32{0, 1, 0, abi.MaxCookieBytes + 1, 0, 64}},
		{"cookie_verify far signed", "", abi.ImportCookieVerify, [8]int32{0, 1, far, 8, 0, 64}},
		{"cookie_verify huge name", "", abi.ImportCookieVerify, [8]int32{0, abi.MaxCookieBytes + 1, 0, 1, 0, 64}},
		{"xsrf_token far", "", abi.ImportXSRFToken, [8]int32{far, 64}},
	}
	for _, c := range cases {
		_, _, err := callHost(t, p, []byte(c.mem), fnNumber(c.fn), true, c.args)
		if err == nil || !strings.Contains(err.Error(), "wasmhost ABI violation") {
			t.Errorf("%s: got %v, want a trap naming the ABI violation", c.name, err)
		}
	}

	// In-range calls work, and what they copy lands in the page.
	signed := fakeSignature("n", "v")
	head := abi.AppendPair(abi.AppendPair(nil, ":method", "GET"), ":url", "http://"+fakeAllowedHost+"/x")
	elsewhere := abi.AppendPair(abi.AppendPair(nil, ":method", "GET"), ":url", "http://elsewhere.test/")
	next := abi.AppendPair(abi.AppendPair(nil, abi.NextMethod, "GET"), abi.NextPath, "/down")
	for _, c := range []struct {
		name string
		mem  string
		fn   string
		args [8]int32
		want int32
		out  string // expected at offset 1000 of the page, if set
	}{
		{"environ_get", "", abi.ImportEnvironGet, [8]int32{1000, 4096}, int32(len(newCheckingExchange(t).Environ())), ""},
		{"static_url", "Name", abi.ImportStaticURL, [8]int32{0, 4, 1000, 64}, int32(len("/static/Name")), "/static/Name"},
		{"result_get", "", abi.ImportResultGet, [8]int32{1000, 4096}, int32(len(heldValue)), heldValue},
		{"kv_get", "held", abi.ImportKVGet, [8]int32{1, 0, 4, 1000, 4096}, int32(len(heldValue)), heldValue},
		{"kv_get absent", "nope", abi.ImportKVGet, [8]int32{1, 0, 4, 1000, 4096}, abi.ErrNotFound, ""},
		{"kv_get bad handle", "held", abi.ImportKVGet, [8]int32{2, 0, 4, 1000, 4096}, abi.ErrHandle, ""},
		{"kv_increment", "n", abi.ImportKVIncrement, [8]int32{1, 0, 1, 1, 1000}, 0, "\x2a\x00\x00\x00\x00\x00\x00\x00"},
		{"kv_exists", "n", abi.ImportKVExists, [8]int32{1, 0, 1}, 1, ""},
		{"kv_cas absent", "new", abi.ImportKVCompareAndSwap, [8]int32{1, 0, 3, 0, 0, 0, 3, abi.KVOldAbsent}, 1, ""},
		{"http_request", string(head), abi.ImportHTTPRequest, [8]int32{0, int32(len(head)), 0}, 2, ""},
		{"http_request not allowed", string(elsewhere), abi.ImportHTTPRequest, [8]int32{0, int32(len(elsewhere)), 0}, abi.ErrDenied, ""},
		// The fake's round trip fails, so the far buffer is never
		// touched: no trap, as with environ_get's buffer that is too small.
		{"http_response of a failed request", "", abi.ImportHTTPResponse, [8]int32{1, far, 4096}, abi.ErrService, ""},
		{"http_close", "", abi.ImportHTTPClose, [8]int32{1}, 0, ""},
		{"next_start", string(next), abi.ImportNextStart, [8]int32{0, int32(len(next)), 0}, 0, ""},
		{"next_wait", "", abi.ImportNextWait, [8]int32{1000}, abi.EventHead, string([]byte{byte(len(fakeHead)), 0, 0, 0})},
		{"next_body too long", "0123456789", abi.ImportNextBody, [8]int32{0, 65}, abi.ErrInvalid, ""},
		{"cookie_sign", "nv", abi.ImportCookieSign, [8]int32{0, 1, 1, 1, 1000, 64}, int32(len(signed)), signed},
		{"cookie_verify", "n" + signed, abi.ImportCookieVerify, [8]int32{0, 1, 1, int32(len(signed)), 1000, 64}, 1, "v"},
		{"xsrf_token", "", abi.ImportXSRFToken, [8]int32{1000, 64}, int32(len("fake-xsrf-token")), "fake-xsrf-token"},
	} {
		res, page, err := callHost(t, p, []byte(c.mem), fnNumber(c.fn), true, c.args)
		if err != nil || res != c.want {
			t.Errorf("%s in range: %d, %v; want %d", c.name, res, err, c.want)
		} else if c.out != "" && !bytes.HasPrefix(page[1000:], []byte(c.out)) {
			t.Errorf("%s in range: the page has %q, want %q", c.name, page[1000:1000+len(c.out)], c.out)
		}
	}
	if st := p.Stats(); st.Live > 1 {
		t.Errorf("%d live instances after discarding each", st.Live)
	}
}

// FuzzHostFunctions calls the host functions with arbitrary guest memory
// and arguments. Whatever the guest passes, the host must not panic or hand
// an Exchange or a service more than the ABI allows; an out-of-range call
// must end in a trap (an error), never in a result computed from memory it
// could not read. The engine is part of the input (its index in
// Engines()), and every seed runs on each engine.
func FuzzHostFunctions(f *testing.F) {
	engines := Engines()
	pair := abi.AppendPair(nil, "Content-Type", "text/plain")
	head := abi.AppendPair(abi.AppendPair(abi.AppendPair(nil, ":method", "PUT"), ":url", "http://"+fakeAllowedHost+"/x"), "Content-Length", "3")
	next := abi.AppendPair(abi.AppendPair(nil, abi.NextMethod, "POST"), "X-A", "b")
	signed := fakeSignature("n", "v")
	type seed struct {
		mem      []byte
		fn       string
		relative bool
		args     []int32
	}
	seeds := []seed{
		{[]byte{}, abi.ImportEnvironGet, true, []int32{0, 4096}},
		{[]byte("hello"), abi.ImportBodyWrite, true, []int32{0, 5}},
		{pair, abi.ImportStartResponse, true, []int32{200, 0, int32(len(pair))}},
		{pair, abi.ImportStartResponse, false, []int32{200, -1, int32(len(pair))}},
		{[]byte("x"), abi.ImportStartResponse, true, []int32{99, 0, 1}},
		{[]byte("x"), abi.ImportLog, true, []int32{0, 1}},
		{[]byte("css/a.css"), abi.ImportStaticURL, true, []int32{0, 9, 16, 100}},
		{[]byte{}, abi.ImportBodyRead, true, []int32{0, -5}},
		{[]byte{}, abi.ImportResultGet, true, []int32{0, 4096}},
		{[]byte("fuzz"), abi.ImportKVOpen, true, []int32{0, 4}},
		{[]byte("held"), abi.ImportKVGet, true, []int32{1, 0, 4, 100, 8}},
		{[]byte("keyvalue"), abi.ImportKVSet, true, []int32{1, 0, 3, 3, 5}},
		{[]byte("a/1"), abi.ImportKVDelete, true, []int32{1, 0, 3}},
		{[]byte("a/1"), abi.ImportKVExists, true, []int32{1, 0, 3}},
		{[]byte("a/"), abi.ImportKVKeys, true, []int32{1, 0, 2, 100, 4096}},
		{[]byte("n"), abi.ImportKVIncrement, true, []int32{1, 0, 1, -3, 8, 0, 0, -1}},
		{[]byte("ntwo41"), abi.ImportKVCompareAndSwap, true, []int32{1, 0, 1, 4, 2, 1, 3, 0}},
		{head, abi.ImportHTTPRequest, true, []int32{0, int32(len(head)), abi.HTTPHasBody}},
		{[]byte("body"), abi.ImportHTTPBodyWrite, true, []int32{1, 0, 4}},
		{[]byte{}, abi.ImportHTTPBodyClose, true, []int32{1}},
		{[]byte{}, abi.ImportHTTPResponse, true, []int32{1, 0, 4096}},
		{[]byte{}, abi.ImportHTTPBodyRead, true, []int32{1, 0, 4096}},
		{[]byte{}, abi.ImportHTTPClose, true, []int32{1}},
		{next, abi.ImportNextStart, true, []int32{0, int32(len(next)), abi.NextHasBody | abi.NextOwnBody}},
		{[]byte{}, abi.ImportNextWait, true, []int32{0}},
		{[]byte{}, abi.ImportNextRead, true, []int32{0, 7}},
		{[]byte("body"), abi.ImportNextBody, true, []int32{0, 4}},
		{[]byte{}, abi.ImportNextBody, true, []int32{0, abi.ErrIO}},
		{[]byte("nv"), abi.ImportCookieSign, true, []int32{0, 1, 1, 1, 100, 64}},
		{[]byte("n" + signed), abi.ImportCookieVerify, true, []int32{0, 1, 1, int32(len(signed)), 100, 64}},
		{[]byte{}, abi.ImportXSRFToken, true, []int32{0, 64}},
		{[]byte("hi"), abi.ImportConnSend, true, []int32{0, 2, abi.ConnBinary}},
		{[]byte("kv"), abi.ImportConnSet, true, []int32{0, 1, 1, 1}},
		{[]byte("bye"), abi.ImportConnClose, true, []int32{1000, 0, 3}},
		{[]byte("room"), abi.ImportConnSubscribe, true, []int32{0, 4}},
		{[]byte("room"), abi.ImportConnUnsubscribe, true, []int32{0, -1}},
		{[]byte("roomdata"), abi.ImportPubsubPublish, true, []int32{0, 4, 4, 4}},
		{[]byte("iddata"), abi.ImportPubsubSendTo, true, []int32{0, 2, 2, 4}},
		{abi.AppendString(nil, "room"), abi.ImportServeEvents, true, []int32{0, 8}},
	}
	for e := range engines {
		for _, s := range seeds {
			var a [8]int32
			copy(a[:], s.args)
			f.Add(uint8(e), s.mem, fnNumber(s.fn), s.relative, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
		}
	}
	f.Fuzz(func(t *testing.T, engine uint8, mem []byte, fn uint8, relative bool, a0, a1, a2, a3, a4, a5, a6, a7 int32) {
		p := abicallPlugin(t, engines[int(engine)%len(engines)])
		fn %= uint8(len(pointerArgs))
		res, _, err := callHost(t, p, mem, fn, relative, [8]int32{a0, a1, a2, a3, a4, a5, a6, a7})
		if err != nil {
			return // a trap or a guest failure: the instance is gone, the host is fine
		}
		if name := abi.Imports[fn]; !resultOK(name, res) {
			t.Errorf("%s returned %d, not a result it may give", name, res)
		}
	})
}

package loader

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// checkingExchange is an Exchange that fails the test if a host function
// hands it more than the ABI's limits allow.
type checkingExchange struct {
	t    testing.TB
	body []byte
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

func (e *checkingExchange) Log(level int32, msg []byte) {
	if len(msg) > abi.MaxLogBytes {
		e.t.Errorf("log passed %d bytes", len(msg))
	}
}

func (e *checkingExchange) StaticURL(path string) string {
	if len(path) > abi.MaxStaticPathBytes {
		e.t.Errorf("static_url passed %d bytes", len(path))
	}
	return "/static/" + path
}

// abicallPlugins holds the abicall plugin loaded once per engine.
var abicallPlugins sync.Map // engine name -> *loadOnce

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
		lo.p, lo.err = l.Load(context.Background(), Config{Name: "abicall", Path: path, Instances: 1, Engine: engine})
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

// pointerArgs says which arguments of each host function are pointers.
var pointerArgs = [8][]int{0: {0}, 1: {0}, 2: {1}, 3: {0}, 5: {1}, 6: {0, 2}}

// callHost runs host function fn (the abicall plugin's numbering: 0
// environ_get, 1 body_read, 2 start_response, 3 body_write, 4 body_flush,
// 5 log, 6 static_url) from inside an instance, with mem written to a fresh
// page of guest memory first. With relative set, the first pointer-ish
// arguments are offsets from that page. It returns the host function's
// result, or the error that ended the call.
func callHost(t testing.TB, p *Plugin, mem []byte, fn uint8, relative bool, args [4]int32) (int32, error) {
	ctx := context.Background()
	inst, err := p.pool.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := inst.mem.(testMemory)
	pages, ok := m.Grow(1)
	if !ok {
		t.Fatal("cannot grow guest memory")
	}
	base := pages * 65536
	if len(mem) > 65536 {
		mem = mem[:65536]
	}
	m.Write(base, mem)
	if relative {
		for _, i := range pointerArgs[fn%8] {
			args[i] += int32(base)
		}
	}
	inst.ex = &checkingExchange{t: t, body: []byte("request body")}
	stack := []uint64{uint64(fn % 8), uint64(uint32(args[0])), uint64(uint32(args[1])), uint64(uint32(args[2])), uint64(uint32(args[3]))}
	err = inst.mod.function("abicall").CallWithStack(&callContext{Context: ctx, inst: inst}, stack)
	inst.ex = nil
	// The fresh page stays with the instance; discard it so the next call
	// starts from a clean one, whatever happened.
	p.pool.discard(inst)
	if err != nil {
		return 0, err
	}
	return int32(uint32(stack[0])), nil
}

func TestHostFunctionsTrapBadPointers(t *testing.T) {
	for _, engine := range Engines() {
		t.Run(engine, func(t *testing.T) { testHostFunctionsTrapBadPointers(t, engine) })
	}
}

func testHostFunctionsTrapBadPointers(t *testing.T, engine string) {
	p := abicallPlugin(t, engine)
	far := int32(0x7ffffff0)
	cases := []struct {
		name string
		fn   uint8
		args [4]int32
	}{
		{"environ_get far", 0, [4]int32{far, 1 << 20}},
		{"body_read far", 1, [4]int32{far, 1024}},
		{"start_response far headers", 2, [4]int32{200, far, 64}},
		{"start_response huge headers", 2, [4]int32{200, 0, 0x7fffffff}},
		{"start_response past the end", 2, [4]int32{200, far, 1}},
		{"body_write far", 3, [4]int32{far, 10}},
		{"body_write over the limit", 3, [4]int32{0, abi.MaxWriteBytes + 1}},
		{"log negative length", 5, [4]int32{2, 16, -1}},
		{"static_url far buffer", 6, [4]int32{0, 8, far, 64}},
		{"static_url huge path", 6, [4]int32{0, abi.MaxStaticPathBytes + 1, 0, 64}},
	}
	for _, c := range cases {
		_, err := callHost(t, p, nil, c.fn, false, c.args)
		if err == nil || !strings.Contains(err.Error(), "wasmhost ABI violation") {
			t.Errorf("%s: got %v, want a trap naming the ABI violation", c.name, err)
		}
	}
	// In-range calls work.
	if n, err := callHost(t, p, nil, 0, true, [4]int32{0, 4096}); err != nil || n <= 0 {
		t.Errorf("environ_get in range: %d, %v", n, err)
	}
	if n, err := callHost(t, p, []byte("Name"), 6, true, [4]int32{0, 4, 100, 64}); err != nil || n != int32(len("/static/Name")) {
		t.Errorf("static_url in range: %d, %v", n, err)
	}
	if st := p.Stats(); st.Live > 1 {
		t.Errorf("%d live instances after discarding each", st.Live)
	}
}

// FuzzHostFunctions calls the host functions with arbitrary guest memory
// and arguments. Whatever the guest passes, the host must not panic or hand
// an Exchange more than the ABI allows; an out-of-range call must end in a
// trap (an error), never in a result computed from memory it could not read.
// The engine is part of the input (its index in Engines()), and every seed
// runs on each engine.
func FuzzHostFunctions(f *testing.F) {
	engines := Engines()
	pair := abi.AppendPair(nil, "Content-Type", "text/plain")
	for e := range engines {
		e := uint8(e)
		f.Add(e, []byte{}, uint8(0), true, int32(0), int32(4096), int32(0), int32(0))
		f.Add(e, []byte("hello"), uint8(3), true, int32(0), int32(5), int32(0), int32(0))
		f.Add(e, pair, uint8(2), true, int32(200), int32(0), int32(len(pair)), int32(0))
		f.Add(e, pair, uint8(2), false, int32(200), int32(-1), int32(len(pair)), int32(0))
		f.Add(e, []byte("x"), uint8(2), true, int32(99), int32(0), int32(1), int32(0))
		f.Add(e, []byte("x"), uint8(5), true, int32(0), int32(1), int32(0), int32(0))
		f.Add(e, []byte("css/a.css"), uint8(6), true, int32(0), int32(9), int32(16), int32(100))
		f.Add(e, []byte{}, uint8(1), true, int32(0), int32(-5), int32(0), int32(0))
	}
	f.Fuzz(func(t *testing.T, engine uint8, mem []byte, fn uint8, relative bool, a, b, c, d int32) {
		p := abicallPlugin(t, engines[int(engine)%len(engines)])
		res, err := callHost(t, p, mem, fn, relative, [4]int32{a, b, c, d})
		if err != nil {
			return // a trap or a guest failure: the instance is gone, the host is fine
		}
		if fn%8 <= 6 && res < abi.ErrLength && fn%8 != 5 {
			t.Errorf("host function %d returned %d, not a size or an abi errno", fn%8, res)
		}
	})
}

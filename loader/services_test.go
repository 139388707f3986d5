package loader

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/kv"
	"github.com/wasmhost/wasmhost/internal/outbound"
)

// sliceMemory is a guest memory for calling host functions directly.
type sliceMemory []byte

func (m sliceMemory) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m)) {
		return nil, false
	}
	return m[off : off+n], true
}
func (m sliceMemory) Size() uint32 { return uint32(len(m)) }

type testServices struct {
	store  kv.Store
	client *outbound.Client
}

func (s testServices) Store(name string) (Store, error) {
	if name != "granted" {
		return nil, errors.New("key-value store " + `"` + name + `"` + " is not granted")
	}
	return s.store, nil
}
func (s testServices) Outbound() Outbound {
	if s.client == nil {
		return nil // no client: refused as a plugin without services is
	}
	return s.client
}

// hostCall runs the host function named fn with args, as the engine would;
// it returns the result, or the trap it raised.
func hostCall(ctx context.Context, mem guestMemory, fn string, args ...uint64) (res int32, trapped error) {
	for _, f := range hostFunctions {
		if f.name != fn {
			continue
		}
		stack := make([]uint64, max(len(args), 1))
		copy(stack, args)
		defer func() {
			if r := recover(); r != nil {
				trapped = r.(*trap)
			}
		}()
		f.fn(ctx, mem, stack)
		return int32(uint32(stack[0])), nil
	}
	panic("no host function " + fn)
}

func TestServicesHostFunctions(t *testing.T) {
	store, err := kv.OpenSQLite(filepath.Join(t.TempDir(), "t.kv"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	inst := &instance{plugin: &Plugin{Name: "p", log: hclog.NewNullLogger(), cfg: Config{Services: testServices{store: store}}}}
	ctx := &callContext{Context: context.Background(), inst: inst}
	mem := make(sliceMemory, 1<<16)
	put := func(off int, s string) (uint64, uint64) { copy(mem[off:], s); return uint64(off), uint64(len(s)) }
	held := func() string {
		n, _ := hostCall(ctx, mem, abi.ImportResultGet, 0, 0)
		hostCall(ctx, mem, abi.ImportResultGet, 60000, uint64(n))
		return string(mem[60000 : 60000+n])
	}

	p, n := put(0, "other")
	if r, _ := hostCall(ctx, mem, abi.ImportKVOpen, p, n); r != abi.ErrDenied || !strings.Contains(held(), `"other" is not granted`) {
		t.Errorf("kv_open of an ungranted store: %d", r)
	}
	p, n = put(0, "granted")
	h, _ := hostCall(ctx, mem, abi.ImportKVOpen, p, n)
	if h != 1 {
		t.Fatalf("kv_open = %d", h)
	}
	kp, kn := put(100, "key")
	vp, vn := put(200, "a value longer than eight bytes")
	if r, _ := hostCall(ctx, mem, abi.ImportKVSet, uint64(h), kp, kn, vp, vn); r != 0 {
		t.Fatalf("kv_set = %d", r)
	}
	// A buffer too small: the size comes back and result_get has the value.
	if r, _ := hostCall(ctx, mem, abi.ImportKVGet, uint64(h), kp, kn, 1000, 8); r != int32(vn) || held() != "a value longer than eight bytes" {
		t.Errorf("kv_get into a small buffer = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportKVIncrement, uint64(h), kp, kn, uint64(5), 2000); r != abi.ErrInvalid {
		t.Errorf("kv_increment of a text value = %d", r)
	}
	cp, cn := put(300, "n")
	neg := int64(-3)
	if r, _ := hostCall(ctx, mem, abi.ImportKVIncrement, uint64(h), cp, cn, uint64(neg), 2000); r != 0 || int64(binary.LittleEndian.Uint64(mem[2000:])) != -3 {
		t.Errorf("kv_increment = %d, %d", r, int64(binary.LittleEndian.Uint64(mem[2000:])))
	}
	ap, an := put(400, "absent")
	if r, _ := hostCall(ctx, mem, abi.ImportKVGet, uint64(h), ap, an, 1000, 100); r != abi.ErrNotFound {
		t.Errorf("kv_get absent = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportKVCompareAndSwap, uint64(h), ap, an, 0, 0, vp, vn, abi.KVOldAbsent); r != 1 {
		t.Errorf("kv_cas absent = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportKVGet, 7, kp, kn, 1000, 100); r != abi.ErrHandle {
		t.Errorf("kv_get with a bad handle = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportKVGet, uint64(h), 0, 0, 1000, 100); r != abi.ErrInvalid || !strings.Contains(held(), "empty key") {
		t.Errorf("kv_get with an empty key = %d", r)
	}

	// Traps: a range outside memory, a key or value over the ABI's limit.
	for _, c := range []struct {
		fn   string
		args []uint64
	}{
		{abi.ImportKVGet, []uint64{uint64(h), 1 << 20, 3, 0, 0}},
		{abi.ImportKVSet, []uint64{uint64(h), kp, abi.MaxKVKeyBytes + 1, vp, vn}},
		{abi.ImportKVSet, []uint64{uint64(h), kp, kn, 0, abi.MaxKVValueBytes + 1}},
		{abi.ImportKVIncrement, []uint64{uint64(h), kp, kn, 1, 1<<16 - 4}},
		{abi.ImportHTTPRequest, []uint64{0, abi.MaxHeaderBytes + 1, 0}},
	} {
		if _, trapped := hostCall(ctx, mem, c.fn, c.args...); trapped == nil {
			t.Errorf("%s%v did not trap", c.fn, c.args)
		}
	}

	// Outbound without Services.Outbound: every destination is refused.
	head := abi.AppendPair(abi.AppendPair(nil, ":method", "GET"), ":url", "http://127.0.0.1:9/")
	hp, hn := put(3000, string(head))
	if r, _ := hostCall(ctx, mem, abi.ImportHTTPRequest, hp, hn, 0); r != abi.ErrDenied || !strings.Contains(held(), "not allowed") {
		t.Errorf("http_request without allowed_hosts = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportHTTPBodyRead, 3, 0, 10); r != abi.ErrHandle {
		t.Errorf("http_body_read of no request = %d", r)
	}
}

type loopbackResolver struct{}

func (loopbackResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// TestOutboundHostFunctions makes requests through the http_* calls: one
// to an allowed loopback upstream, and one through a wildcard entry whose
// name resolves to that same loopback address, which the dialer refuses.
func TestOutboundHostFunctions(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", string(b))
		io.WriteString(w, "hi there")
	}))
	defer up.Close()
	port := up.URL[strings.LastIndexByte(up.URL, ':')+1:]
	var rules outbound.Rules
	for _, e := range []string{up.URL, "http://*.example.test:" + port} {
		r, err := outbound.ParseRule(e)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	client, err := outbound.NewClient(rules, "")
	if err != nil {
		t.Fatal(err)
	}
	client.Resolver = loopbackResolver{}
	logs := &strings.Builder{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Warn})
	inst := &instance{plugin: &Plugin{Name: "p", log: log, cfg: Config{Services: testServices{client: client}}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cctx := &callContext{Context: ctx, inst: inst}
	mem := make(sliceMemory, 1<<16)
	put := func(off int, b []byte) (uint64, uint64) { copy(mem[off:], b); return uint64(off), uint64(len(b)) }
	held := func() string {
		n, _ := hostCall(cctx, mem, abi.ImportResultGet, 0, 0)
		hostCall(cctx, mem, abi.ImportResultGet, 60000, uint64(n))
		return string(mem[60000 : 60000+n])
	}

	head := abi.AppendPair(abi.AppendPair(nil, ":method", "POST"), ":url", up.URL+"/x")
	hp, hn := put(0, head)
	h, _ := hostCall(cctx, mem, abi.ImportHTTPRequest, hp, hn, abi.HTTPHasBody)
	if h <= 0 {
		t.Fatalf("http_request = %d: %s", h, held())
	}
	bp, bn := put(1000, []byte("the body"))
	if r, _ := hostCall(cctx, mem, abi.ImportHTTPBodyWrite, uint64(h), bp, bn); r != 0 {
		t.Fatalf("http_body_write = %d: %s", r, held())
	}
	hostCall(cctx, mem, abi.ImportHTTPBodyClose, uint64(h))
	n, _ := hostCall(cctx, mem, abi.ImportHTTPResponse, uint64(h), 2000, 4096)
	if n <= 0 || !strings.Contains(string(mem[2000:2000+n]), "the body") {
		t.Errorf("http_response = %d %q", n, mem[2000:2000+max(n, 0)])
	}
	var body []byte
	for {
		r, _ := hostCall(cctx, mem, abi.ImportHTTPBodyRead, uint64(h), 8000, 3)
		if r <= 0 {
			break
		}
		body = append(body, mem[8000:8000+r]...)
	}
	if string(body) != "hi there" {
		t.Errorf("body read 3 bytes at a time: %q", body)
	}
	if r, _ := hostCall(cctx, mem, abi.ImportHTTPClose, uint64(h)); r != 0 {
		t.Errorf("http_close = %d", r)
	}

	head = abi.AppendPair(abi.AppendPair(nil, ":method", "GET"), ":url", "http://rebound.example.test:"+port+"/")
	hp, hn = put(0, head)
	h, _ = hostCall(cctx, mem, abi.ImportHTTPRequest, hp, hn, 0)
	if h <= 0 {
		t.Fatalf("http_request through the wildcard = %d: %s", h, held())
	}
	if r, _ := hostCall(cctx, mem, abi.ImportHTTPResponse, uint64(h), 2000, 4096); r != abi.ErrDenied {
		t.Errorf("a wildcard name resolving to 127.0.0.1: http_response = %d, want ErrDenied", r)
	} else if msg := held(); !strings.Contains(msg, "not allowed") || !strings.Contains(msg, "rebound.example.test") {
		t.Errorf("refusal message %q lacks \"not allowed\" or the destination", msg)
	}
	if !strings.Contains(logs.String(), "outbound request refused") || !strings.Contains(logs.String(), "plugin=p") {
		t.Errorf("refusal not logged with the plugin's name: %q", logs.String())
	}
}

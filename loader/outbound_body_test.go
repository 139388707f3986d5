package loader

import (
	"context"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/abi"
)

// A request started with a body but declaring Content-Length: 0 has no
// body to send: a body write fails at once instead of waiting for the
// request's deadline on a pipe nobody reads.
func TestOutboundBodyWriteToEmptyBodyFailsAtOnce(t *testing.T) {
	for _, engine := range Engines() {
		t.Run(engine, func(t *testing.T) {
			p := abicallPlugin(t, engine)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			inst, err := p.pool.acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer p.pool.discard(inst)
			m := inst.mem.(testMemory)
			pages, ok := m.Grow(1)
			if !ok {
				t.Fatal("cannot grow guest memory")
			}
			base := pages * pageSize
			head := abi.AppendPair(setupHead, "Content-Length", "0")
			m.Write(base, head)
			m.Write(base+4096, []byte("x"))
			inst.ex = newCheckingExchange(t)
			defer func() { inst.ex = nil }()
			cctx := &callContext{Context: ctx, inst: inst}
			call := func(name string, args ...int32) int32 {
				stack := make([]uint64, 9)
				stack[0] = uint64(fnNumber(name))
				for i, a := range args {
					stack[i+1] = uint64(uint32(a))
				}
				if err := inst.mod.function("abicall").CallWithStack(cctx, stack); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return int32(uint32(stack[0]))
			}
			h := call(abi.ImportHTTPRequest, int32(base), int32(len(head)), abi.HTTPHasBody)
			if h <= 0 {
				t.Fatalf("http_request = %d", h)
			}
			start := time.Now()
			res := call(abi.ImportHTTPBodyWrite, h, int32(base+4096), 1)
			if res != abi.ErrClosed {
				t.Errorf("http_body_write to an empty body = %d, want ErrClosed", res)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("http_body_write to an empty body took %v: it waited for the deadline", d)
			}
			abicallServices().drain()
		})
	}
}

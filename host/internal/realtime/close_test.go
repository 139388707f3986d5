package realtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
)

// A message past max_message_size closes with 1009.
func TestPythonMessageTooBig(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {MaxMessageSize: 1024}})
	out := realtimetest.Python(t, `
async def main(url):
    async with connect(url) as ws:
        await ws.send("x" * 1024)
        fits = len(await recv(ws))
        await ws.send("x" * 1025)
        return {"fits": fits, "code": await closed_code(ws)}
run(main)
`, s.WS("/ws"))
	var got struct{ Fits, Code int }
	decode(t, out, &got)
	if got.Fits != 1024 || got.Code != 1009 {
		t.Fatalf("got %+v", got)
	}
	if c := s.WaitClose(t, "", 5*time.Second); c.Code != 1009 {
		t.Fatalf("Close event %+v", c)
	}
}

// An event that runs past its timeout, or fails, closes its connection
// with 1011; another connection's events go on during and after it.
func TestPythonEventFailure(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {EventTimeout: 300 * time.Millisecond}})
	out := realtimetest.Python(t, `
async def main(url):
    a = await connect(url)
    b = await connect(url)
    c = await connect(url)
    t0 = time.monotonic()
    await a.send("loop")
    await asyncio.sleep(0.1)
    await b.send("during")
    during = await recv(b)
    a_code = await closed_code(a)
    elapsed = time.monotonic() - t0
    await c.send("panic")
    c_code = await closed_code(c)
    await b.send("after")
    after = await recv(b)
    await b.close()
    return {"a": a_code, "c": c_code, "elapsed": elapsed, "during": during, "after": after}
run(main)
`, s.WS("/ws"))
	var got struct {
		A, C          int
		Elapsed       float64
		During, After string
	}
	decode(t, out, &got)
	if got.A != 1011 || got.C != 1011 || got.During != "during" || got.After != "after" {
		t.Fatalf("got %+v", got)
	}
	if got.Elapsed < 0.25 || got.Elapsed > 3 {
		t.Fatalf("the looping event was closed after %.2fs, its timeout is 0.3s", got.Elapsed)
	}
	st := s.Endpoints["/ws"].Stats()
	if st.Closes[1011] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// A client that stops reading is closed with 1008 once its send buffer is
// full, while a client that reads gets every message at the same pace.
func TestPythonSlowReader(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {SendBuffer: 64 << 10}})
	out := realtimetest.Python(t, `
async def reader(url):
    async with connect(url) as ws:
        await ws.send("flood:1500:16384")
        n = 0
        for _ in range(1500):
            await recv(ws)
            n += 1
        return n

async def stalled(url):
    async with connect(url, max_queue=1, read_limit=2**14) as ws:
        await ws.send("flood:1500:16384")
        await asyncio.sleep(3)  # not reading: the kernel's buffers fill, then the host's
        n = 0
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
                n += 1
        except websockets.ConnectionClosed:
            pass
        return n, ws.close_code

async def main(url):
    n, (m, code) = await asyncio.gather(reader(url), stalled(url))
    return {"reader": n, "stalled": m, "code": code}
run(main)
`, s.WS("/ws"))
	var got struct{ Reader, Stalled, Code int }
	decode(t, out, &got)
	if got.Reader != 1500 || got.Code != 1008 || got.Stalled >= 1500 {
		t.Fatalf("got %+v (1500 messages of 16 KiB sent to each)", got)
	}
	a, b := s.WaitClose(t, "", 5*time.Second), s.WaitClose(t, "", 5*time.Second)
	if a.Code == 1000 {
		a, b = b, a
	}
	if a.Code != 1008 || a.Reason != "send buffer full" || b.Code != 1000 {
		t.Fatalf("Close events %+v, %+v", a, b)
	}
	t.Logf("a client not reading got %d of 1500 messages (what the kernel buffered) before 1008", got.Stalled)
}

// Close from the plugin goes out after the messages queued before it.
func TestPythonPluginClose(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {}})
	out := realtimetest.Python(t, `
async def main(url):
    async with connect(url) as ws:
        await ws.send("before")
        await ws.send("close:4001:done")
        first = await recv(ws)
        return {"first": first, "code": await closed_code(ws), "reason": ws.close_reason}
run(main)
`, s.WS("/ws"))
	var got struct {
		First, Reason string
		Code          int
	}
	decode(t, out, &got)
	if got.First != "before" || got.Code != 4001 || got.Reason != "done" {
		t.Fatalf("got %+v", got)
	}
}

// Shutdown closes every connection with the code given (1001 as a worker
// goes away) after the messages already queued.
func TestPythonShutdown(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {}})
	ep := s.Endpoints["/ws"]
	go func() {
		for ep.Stats().Open < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		ep.Shutdown(context.Background(), 1001, "going away")
	}()
	out := realtimetest.Python(t, `
async def main(url):
    a = await connect(url)
    b = await connect(url)
    return {"a": await closed_code(a), "b": await closed_code(b), "after": await status_of(url)}
run(main)
`, s.WS("/ws"))
	var got struct{ A, B, After int }
	decode(t, out, &got)
	if got.A != 1001 || got.B != 1001 || got.After != 503 {
		t.Fatalf("got %+v", got)
	}
}

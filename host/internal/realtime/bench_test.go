package realtime_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// benchConns is how many connections the scale benchmarks hold
// (REALTIME_BENCH_CONNS, default 2000).
func benchConns() int {
	if n, err := strconv.Atoi(os.Getenv("REALTIME_BENCH_CONNS")); err == nil && n > 0 {
		return n
	}
	return 2000
}

// holdConns opens n connections to url from a Node process (so its memory
// is not the server's) subscribed to topic "bench", and returns once all
// are open. Each connection counts the messages it gets; the process
// prints the least count when told "count" on stdin.
func holdConns(b *testing.B, url string, n int) (count func() int) {
	b.Helper()
	node, path := testutil.NodeWS(b)
	cmd := exec.Command(node, "-e", `
const WebSocket = require("ws");
const [url, n] = [process.argv[1], +process.argv[2]];
const socks = [];
let opened = 0;
const openOne = () => new Promise((ok, fail) => {
  const ws = new WebSocket(url + "?topic=bench", {perMessageDeflate: false});
  ws.count = 0;
  ws.on("message", () => ws.count++);
  ws.on("open", () => { socks.push(ws); ok(); });
  ws.on("error", fail);
});
(async () => {
  for (let i = 0; i < n; i += 100) await Promise.all(Array.from({length: Math.min(100, n - i)}, openOne));
  console.log("ready");
})().catch((e) => { console.error(e); process.exit(1); });
require("readline").createInterface({input: process.stdin}).on("line", () => {
  console.log(Math.min(...socks.map((s) => s.count)));
}).on("close", () => process.exit(0));
`, "--", url, strconv.Itoa(n))
	cmd.Env = append(os.Environ(), "NODE_PATH="+path)
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	out := bufio.NewScanner(outp)
	if !out.Scan() || out.Text() != "ready" {
		b.Fatalf("node did not open %d connections: %q", n, out.Text())
	}
	return func() int {
		fmt.Fprintln(in, "count")
		out.Scan()
		c, _ := strconv.Atoi(out.Text())
		return c
	}
}

type memory struct{ rss, heapStack uint64 }

func measure() memory {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memory{heapStack: ms.HeapInuse + ms.StackInuse}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			m.rss = pages * uint64(os.Getpagesize())
		}
	}
	return m
}

type echoEvents struct{}

func (echoEvents) Open(ctx context.Context, c *realtime.Conn, r *http.Request) error {
	for _, t := range r.URL.Query()["topic"] {
		if err := c.Subscribe(t); err != nil {
			return err
		}
	}
	return nil
}
func (echoEvents) Message(ctx context.Context, c *realtime.Conn, m realtime.Message) error {
	return c.Send(m.Data, m.Binary)
}
func (echoEvents) Close(ctx context.Context, c *realtime.Conn, code int, reason string) {}

func benchServer(b *testing.B) (*realtime.Hub, *realtime.Endpoint, string) {
	b.Helper()
	hub, _ := realtime.NewHub(nil, realtime.HubOptions{})
	ep := realtime.NewEndpoint(hub, echoEvents{}, realtime.Settings{MaxConnections: 1 << 20})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ep.Accept(w, r) }))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ep.Shutdown(ctx, 1001, "")
		srv.Close()
		hub.Close()
	})
	return hub, ep, "ws" + strings.TrimPrefix(srv.URL, "http")
}

// BenchmarkIdleConnections measures what an idle connection costs the
// host: its reader goroutine, buffers and state (run with -benchtime=1x).
func BenchmarkIdleConnections(b *testing.B) {
	n := benchConns()
	for range b.N {
		_, ep, url := benchServer(b)
		before := measure()
		holdConns(b, url, n)
		for ep.Stats().Open < int64(n) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		after := measure()
		b.ReportMetric(float64(after.rss-before.rss)/float64(n), "rss-B/conn")
		b.ReportMetric(float64(after.heapStack-before.heapStack)/float64(n), "heap+stack-B/conn")
		b.ReportMetric(float64(runtime.NumGoroutine())/float64(n), "goroutines/conn")
	}
}

// BenchmarkPublishFanout is one publish to every one of n subscribers:
// an op ends when the host has written it to every socket.
func BenchmarkPublishFanout(b *testing.B) {
	n := benchConns()
	hub, ep, url := benchServer(b)
	count := holdConns(b, url, n)
	msg := []byte(`{"price": 101.25, "symbol": "WASM"}`)
	b.ResetTimer()
	for range b.N {
		out := ep.Stats().MessagesOut
		hub.Publish(context.Background(), "bench", msg)
		for ep.Stats().MessagesOut < out+uint64(n) {
			runtime.Gosched()
		}
	}
	b.StopTimer()
	if got := count(); got < b.N {
		b.Fatalf("a subscriber got %d of %d messages", got, b.N)
	}
	b.ReportMetric(float64(n), "subscribers")
}

// BenchmarkEcho is round trips of a 64-byte message from parallel
// clients, through an Events implementation and through a plain echo
// loop over the same library.
func BenchmarkEcho(b *testing.B) {
	native := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, data, err := c.Read(context.Background())
			if err != nil || c.Write(context.Background(), typ, data) != nil {
				return
			}
		}
	}))
	defer native.Close()
	_, _, events := benchServer(b)
	for _, tc := range []struct{ name, url string }{
		{"events", events},
		{"native", "ws" + strings.TrimPrefix(native.URL, "http")},
	} {
		b.Run(tc.name, func(b *testing.B) { echo(b, tc.url) })
	}
}

func echo(b *testing.B, url string) {
	msg := []byte(strings.Repeat("m", 64))
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.CloseNow()
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
				b.Error(err)
				return
			}
			if _, _, err := c.Read(ctx); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

package host_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
)

// nodeEcho sends n messages over c connections, each waiting for its
// echo before the next, and prints the rate and the round trips' p50 and
// p99 in microseconds, as measured by the client.
const nodeEcho = `
const WebSocket = require("ws");
const [url, n, c] = process.argv.slice(1).map((v, i) => i ? +v : v);
function conn() {
  return new Promise((res, rej) => { const ws = new WebSocket(url); ws.once("message", () => res(ws)); ws.on("error", rej); });
}
(async () => {
  const conns = await Promise.all(Array.from({length: c}, conn));
  const lat = [];
  const t0 = process.hrtime.bigint();
  await Promise.all(conns.map(async ws => {
    for (let i = 0; i < Math.ceil(n / c); i++) {
      const s = process.hrtime.bigint();
      await new Promise(r => { ws.once("message", r); ws.send("m"); });
      lat.push(Number(process.hrtime.bigint() - s) / 1000);
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({rate: lat.length / secs, p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)]}));
  conns.forEach(ws => ws.close());
})().catch(e => { console.error(e); process.exit(1); });
`

// BenchmarkRealtimeGuestEcho is one guest call per message: the rtraw
// guest echoes each message of 4 parallel Node ws clients.
func BenchmarkRealtimeGuestEcho(b *testing.B) {
	s := startSite(b, `
plugin "rt" {
  path  = "{{rtraw}}"
  mount = "/rt"
  websocket {}
}
`)
	url := "ws" + strings.TrimPrefix(s.base, "http") + "/rt/"
	realtimetest.Node(b, nodeEcho, url, "400", "4") // warm the pool
	b.ResetTimer()
	out := realtimetest.Node(b, nodeEcho, url, strconv.Itoa(max(b.N, 4)), "4")
	var r struct{ Rate, P50, P99 float64 }
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	b.ReportMetric(r.Rate, "msgs/s")
	b.ReportMetric(r.P50, "p50-µs")
	b.ReportMetric(r.P99, "p99-µs")
}

package realtime_test

import (
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
)

// nodePrelude opens sockets with Node's ws and collects their messages.
const nodePrelude = `
const WebSocket = require("ws");
const open = (url, opts) => new Promise((ok, fail) => {
  const ws = new WebSocket(url, opts);
  ws.inbox = []; ws.waiting = [];
  ws.on("message", (d, binary) => {
    const m = binary ? d : d.toString();
    const w = ws.waiting.shift();
    if (w) w(m); else ws.inbox.push(m);
  });
  ws.on("open", () => ok(ws));
  ws.on("error", fail);
});
const next = (ws) => ws.inbox.length ? Promise.resolve(ws.inbox.shift()) : new Promise((ok) => ws.waiting.push(ok));
const closed = (ws) => new Promise((ok) => ws.on("close", (code) => ok(code)));
const run = (main) => {
  setTimeout(() => { console.error("timed out"); process.exit(2); }, 60000).unref();
  main(...process.argv.slice(1)).then((r) => { console.log(JSON.stringify(r)); process.exit(0); },
    (e) => { console.error(e); process.exit(1); });
};
`

// Echo, a publish to all subscribers and SendTo by id through Node's ws;
// compression negotiated only where it is on.
func TestNodeEchoPublishSendTo(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {}, "/wsz": {Compression: true}})
	out := realtimetest.Node(t, nodePrelude+`
run(async (base) => {
  const a = await open(base + "/ws?topic=room"), b = await open(base + "/wsz?topic=room");
  a.send("hello"); const echo = await next(a);
  b.send("id"); const bid = await next(b);
  a.send("to:" + bid + ":for b only"); const private = await next(b);
  b.send("pub:room:to everyone");
  const pubs = [await next(a), await next(b)];
  const ext = [a.extensions, b.extensions];
  a.close(1000); b.close(1000);
  return {echo, private, pubs, ext};
});
`, s.WS(""))
	var got struct {
		Echo, Private string
		Pubs, Ext     []string
	}
	decode(t, out, &got)
	if got.Echo != "hello" || got.Private != "for b only" || got.Pubs[0] != "to everyone" || got.Pubs[1] != "to everyone" {
		t.Fatalf("got %+v", got)
	}
	if got.Ext[0] != "" || got.Ext[1] == "" {
		t.Fatalf("extensions %q: want none on /ws, permessage-deflate on /wsz", got.Ext)
	}
}

// A client that never answers pings is closed after ping_interval +
// ping_timeout; one that answers stays.
func TestNodePingTimeout(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {PingInterval: 300 * time.Millisecond, PingTimeout: 400 * time.Millisecond}})
	out := realtimetest.Node(t, nodePrelude+`
run(async (url) => {
  const mute = await open(url, {autoPong: false});
  const t0 = Date.now();
  const live = await open(url);
  let pings = 0; live.on("ping", () => pings++);
  const code = await closed(mute);
  const elapsed = (Date.now() - t0) / 1000;
  await new Promise((ok) => setTimeout(ok, 1000));
  live.send("still here"); const echo = await next(live);
  live.close(1000);
  return {code, elapsed, pings, echo};
});
`, s.WS("/ws"))
	var got struct {
		Code    int
		Elapsed float64
		Pings   int
		Echo    string
	}
	decode(t, out, &got)
	if got.Code != 1006 || got.Echo != "still here" || got.Pings < 3 {
		t.Fatalf("got %+v", got)
	}
	if got.Elapsed < 0.65 || got.Elapsed > 2 {
		t.Fatalf("closed after %.2fs; ping_interval + ping_timeout is 0.7s", got.Elapsed)
	}
	c := s.WaitClose(t, "", 5*time.Second)
	if c.Code != 1006 || c.Reason != "ping timeout" {
		t.Fatalf("Close event %+v", c)
	}
}

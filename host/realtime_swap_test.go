package host_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// rtVersions builds two variants of rtraw and puts the first where a site
// loads it; it returns the live path and the second build.
func rtVersions(t *testing.T) (live, v2 string) {
	v1 := testutil.PluginVariant(t, "plugins/testplugins/rtraw", "-X main.version=one")
	v2 = testutil.PluginVariant(t, "plugins/testplugins/rtraw", "-X main.version=two")
	live = filepath.Join(t.TempDir(), "rt.wasm")
	testutil.CopyFile(t, v1, live)
	return live, v2
}

// waitFile waits for a client script to create path.
func waitFile(t *testing.T, path string, client <-chan []byte) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case out := <-client:
			t.Fatalf("the client ended before %s: %s", filepath.Base(path), out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s", filepath.Base(path))
		}
	}
}

// nodeSwapClient opens n connections, checks each echoes version one,
// creates ready, waits for go, then checks each echoes version two; it
// prints how many connections closed and how many echoes were wrong.
const nodeSwapClient = `
const WebSocket = require("ws");
const fs = require("fs");
const [url, n, ready, go] = process.argv.slice(1);
let closed = 0, wrong = 0;
function open() {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url);
    ws.on("close", () => closed++);
    ws.once("message", () => res(ws));
    ws.on("error", rej);
  });
}
function echo(ws, want) {
  return new Promise(res => {
    ws.once("message", m => { if (m.toString() !== want) wrong++; res(); });
    ws.send("v");
  });
}
(async () => {
  const conns = [];
  for (let i = 0; i < +n; i += 100) {
    conns.push(...await Promise.all(Array.from({length: Math.min(100, +n - i)}, open)));
  }
  await Promise.all(conns.map(ws => echo(ws, "echo[one]:v")));
  fs.writeFileSync(ready, "");
  while (!fs.existsSync(go)) await new Promise(r => setTimeout(r, 20));
  await Promise.all(conns.map(ws => echo(ws, "echo[two]:v")));
  const closedBefore = closed;
  conns.forEach(ws => ws.close(1000));
  console.log(JSON.stringify({open: conns.length, closed: closedBefore, wrong}));
})().catch(e => { console.error(e); process.exit(1); });
`

// A hot swap with many connections open closes none of them, and each
// one's next event runs the new version.
func TestRealtimeHotSwapKeepsConnections(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	if v, err := strconv.Atoi(os.Getenv("REALTIME_SWAP_CONNS")); err == nil {
		n = v
	}
	live, v2 := rtVersions(t)
	s := startSite(t, `
plugin "rt" {
  path  = "`+live+`"
  mount = "/rt"
  websocket {}
}
`)
	dir := t.TempDir()
	ready, goFile := filepath.Join(dir, "ready"), filepath.Join(dir, "go")
	client := make(chan []byte, 1)
	go func() {
		client <- realtimetest.Node(t, nodeSwapClient, "ws"+strings.TrimPrefix(s.base, "http")+"/rt/", strconv.Itoa(n), ready, goFile)
	}()
	waitFile(t, ready, client)
	testutil.CopyFile(t, v2, live)
	if res, err := s.srv.ReloadPlugin("rt"); err != nil || !res.Swapped {
		t.Fatalf("swap: %+v, %v", res, err)
	}
	os.WriteFile(goFile, nil, 0o644)
	var r struct{ Open, Closed, Wrong int }
	out := <-client
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Open != n || r.Closed != 0 || r.Wrong != 0 {
		t.Errorf("%d connections open, %d closed by the swap, %d echoes from the wrong version", r.Open, r.Closed, r.Wrong)
	}
}

// pythonCloseClient connects, creates the ready file once the open event
// answered, and prints the close code the server sends.
const pythonCloseClient = `
async def main(url, ready):
    async with connect(url) as ws:
        await recv(ws)
        open(ready, "w").close()
        return await closed_code(ws, 20)
run(main)
`

func closeCodeAfter(t *testing.T, url string, act func()) string {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	client := make(chan []byte, 1)
	go func() { client <- realtimetest.Python(t, pythonCloseClient, url, ready) }()
	waitFile(t, ready, client)
	act()
	return strings.TrimSpace(string(<-client))
}

// Shutdown closes connections with 1001 (going away).
func TestRealtimeShutdownClosesGoingAway(t *testing.T) {
	s := startSite(t, realtimeSite)
	code := closeCodeAfter(t, "ws"+strings.TrimPrefix(s.base, "http")+"/rt/", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel) // not before: past the context, connections are dropped (1006)
		go s.srv.Shutdown(ctx)
	})
	if code != "1001" {
		t.Errorf("shutdown closed a connection with %s", code)
	}
}

// A reload that removes the plugin's websocket block closes its
// connections with 1001; plain HTTP goes on.
func TestRealtimeReloadDroppingWebSocket(t *testing.T) {
	s := startSite(t, realtimeSite)
	rt := testutil.Plugin(t, "plugins/testplugins/rtraw")
	code := closeCodeAfter(t, "ws"+strings.TrimPrefix(s.base, "http")+"/rt/", func() {
		cfg, diags := config.Parse([]byte("plugin \"rt\" {\n  path = \""+rt+"\"\n  mount = \"/rt\"\n}\n"), filepath.Join(t.TempDir(), "site.hcl"))
		if diags.HasErrors() {
			t.Fatal(config.FormatDiagnostics(diags))
		}
		if err := s.srv.Reload(context.Background(), host.SiteOf(cfg)); err != nil {
			t.Fatal(err)
		}
	})
	if code != "1001" {
		t.Errorf("the reload closed a connection with %s", code)
	}
	if _, body := s.get(t, "/rt/"); body != "http one" {
		t.Errorf("plain GET after the reload: %q", body)
	}
}

// nodeStreams opens n event streams, creates ready once each has begun,
// waits for go, and prints how many got an event within 20 s.
const nodeStreams = `
const http = require("http");
const fs = require("fs");
const [url, n, ready, go] = process.argv.slice(1);
const agent = new http.Agent({keepAlive: false, maxSockets: Infinity});
function stream() {
  return new Promise((res, rej) => {
    const s = {open: false, got: false, buf: ""};
    http.get(url, {agent}, r => {
      r.setEncoding("utf8");
      r.on("data", d => {
        s.buf += d;
        if (!s.open && s.buf.includes(": stream open")) { s.open = true; res(s); }
        if (s.buf.includes("data: ping")) s.got = true;
      });
    }).on("error", rej);
  });
}
(async () => {
  const all = [];
  for (let i = 0; i < +n; i += 100) all.push(...await Promise.all(Array.from({length: Math.min(100, +n - i)}, stream)));
  fs.writeFileSync(ready, "");
  while (!fs.existsSync(go)) await new Promise(r => setTimeout(r, 20));
  const end = Date.now() + 20000;
  while (all.some(s => !s.got) && Date.now() < end) await new Promise(r => setTimeout(r, 50));
  console.log(JSON.stringify({open: all.length, got: all.filter(s => s.got).length}));
  process.exit(0);
})().catch(e => { console.error(e); process.exit(1); });
`

// 1,000 event streams hold no instance: the guest returned from each
// serve_events call, and one publish reaches them all.
func TestRealtimeEventStreamsHoldNoInstance(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	s := startSite(t, realtimeSite)
	dir := t.TempDir()
	ready, goFile := filepath.Join(dir, "ready"), filepath.Join(dir, "go")
	client := make(chan []byte, 1)
	go func() {
		client <- realtimetest.Node(t, nodeStreams, s.base+"/rt/events", strconv.Itoa(n), ready, goFile)
	}()
	waitFile(t, ready, client)
	st := s.srv.Status()
	for _, p := range st.Plugins {
		if p.Name == "rt" && (p.Instances.Busy != 0 || p.Instances.Created > 16) {
			t.Errorf("with %d streams open: %+v", n, p.Instances)
		}
	}
	if len(st.Pubsub) != 1 || st.Pubsub[0].Streams != int64(n) {
		t.Errorf("/status pubsub: %+v", st.Pubsub)
	}
	if _, body := s.get(t, "/rt/publish?ping"); body != "published 0" {
		t.Errorf("publish: %q", body)
	}
	os.WriteFile(goFile, nil, 0o644)
	var r struct{ Open, Got int }
	out := <-client
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Open != n || r.Got != n {
		t.Errorf("%d streams open, %d got the event", r.Open, r.Got)
	}
}

// A reload that is refused (here: a plugin whose file is missing) leaves
// the open connections' events on the running site.
func TestRealtimeRefusedReloadKeepsEvents(t *testing.T) {
	s := startSite(t, realtimeSite)
	rt := testutil.Plugin(t, "plugins/testplugins/rtraw")
	dir := t.TempDir()
	ready, goFile := filepath.Join(dir, "ready"), filepath.Join(dir, "go")
	client := make(chan []byte, 1)
	go func() {
		client <- realtimetest.Python(t, `
import os
async def main(url, ready, go):
    async with connect(url) as ws:
        await recv(ws)
        open(ready, "w").close()
        while not os.path.exists(go):
            await asyncio.sleep(0.02)
        await ws.send("v")
        return await recv(ws)
run(main)
`, "ws"+strings.TrimPrefix(s.base, "http")+"/rt/", ready, goFile)
	}()
	waitFile(t, ready, client)
	// The same rt block with another timeout (so it is loaded anew and
	// takes the connections over), and a plugin that cannot load.
	src := "pubsub \"default\" {}\nplugin \"rt\" {\n  path = \"" + rt + "\"\n  mount = \"/rt\"\n  timeout = \"2s\"\n  pubsub = [\"default\"]\n  websocket {}\n}\n" +
		"plugin \"bad\" {\n  path = \"" + filepath.Join(dir, "missing.wasm") + "\"\n  mount = \"/bad\"\n}\n"
	cfg, diags := config.Parse([]byte(src), filepath.Join(dir, "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(config.FormatDiagnostics(diags))
	}
	if err := s.srv.Reload(context.Background(), host.SiteOf(cfg)); err == nil {
		t.Fatal("a reload with a missing plugin was accepted")
	}
	os.WriteFile(goFile, nil, 0o644)
	if out := strings.TrimSpace(string(<-client)); out != `"echo[one]:v"` {
		t.Errorf("after a refused reload the connection's event answered %s", out)
	}
}

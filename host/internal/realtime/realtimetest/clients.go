package realtimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// PythonPrelude is imported by every Python client script: websockets'
// asyncio client (Debian's 10.x), and helpers that keep each step
// bounded in time.
const PythonPrelude = `
import asyncio, json, sys, time
import websockets

def connect(url, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 5)
    kw.setdefault("close_timeout", 5)
    return websockets.connect(url, **kw)

async def recv(ws, t=5):
    return await asyncio.wait_for(ws.recv(), t)

async def closed_code(ws, t=10):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), t)
    except websockets.ConnectionClosed:
        pass
    return ws.close_code

async def status_of(url, **kw):
    try:
        async with connect(url, **kw):
            return 101
    except websockets.InvalidStatusCode as e:
        return e.status_code

def run(main):
    print(json.dumps(asyncio.run(asyncio.wait_for(main(*sys.argv[1:]), 60))))
`

// Python runs script (after PythonPrelude) with args and returns what it
// printed; a failing script fails the test.
func Python(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	py := testutil.PythonWebsockets(t)
	return run(t, exec.Command(py, append([]string{"-c", PythonPrelude + script}, args...)...))
}

// Node runs script with require("ws") available and returns its output.
func Node(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	node, path := testutil.NodeWS(t)
	cmd := exec.Command(node, append([]string{"-e", script, "--"}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+path)
	return run(t, cmd)
}

func run(t testing.TB, cmd *exec.Cmd) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env = cmd.Env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", cmd.Args[0], err, out.Bytes(), errb.Bytes())
	}
	return out.Bytes()
}

// AcrossHubs is a Python client for two servers whose hubs share a
// backend: a publish on one reaches subscribers on both, SendTo on one
// reaches a connection on the other, and an event stream on the other
// gets the publish too.
const AcrossHubs = `
async def main(a_url, b_url):
    a = await connect(a_url + "/ws?topic=room")
    b = await connect(b_url + "/ws?topic=room")
    await a.send("pub:room:from a")
    got = [await recv(a), await recv(b)]
    await b.send("id")
    b_id = await recv(b)
    await a.send("to:" + b_id + ":to b")
    private = await recv(b)
    await b.send("pub:room:from b")
    back = [await recv(a), await recv(b)]
    await a.close(); await b.close()
    return {"got": got, "private": private, "back": back, "b_id": b_id}
run(main)
`

// CheckAcrossHubs runs AcrossHubs against a and b.
func CheckAcrossHubs(t testing.TB, a, b *Server) {
	t.Helper()
	out := Python(t, AcrossHubs, a.WS(""), b.WS(""))
	var got struct {
		Got, Back []string
		Private   string
		BID       string `json:"b_id"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if strings.Join(got.Got, "|") != "from a|from a" || got.Private != "to b" || strings.Join(got.Back, "|") != "from b|from b" {
		t.Fatalf("across hubs: %+v", got)
	}
	if realtime.HubOf(got.BID) != b.Hub.ID() {
		t.Fatalf("b's connection %q is not of b's hub %q", got.BID, b.Hub.ID())
	}
}

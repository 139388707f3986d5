package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// pubsubAcrossWorkers opens connections until both workers hold some
// (each says its worker in its hello), publishes once over HTTP, and
// reports the workers and how many connections got the message.
const pubsubAcrossWorkers = `
import asyncio, json, sys, urllib.request
import websockets
def connect(url):
    return websockets.connect(url, ping_interval=None, open_timeout=5)
async def recv(ws):
    return await asyncio.wait_for(ws.recv(), 5)
def run(main):
    print(json.dumps(asyncio.run(asyncio.wait_for(main(*sys.argv[1:]), 60))))
async def main(base):
    conns, workers = [], set()
    while len(conns) < 64 and (len(workers) < 2 or len(conns) < 8):
        ws = await connect("ws" + base[4:] + "/rt/")
        workers.add((await recv(ws)).split()[2])
        conns.append(ws)
    body = urllib.request.urlopen(base + "/rt/publish?across", timeout=10).read().decode()
    got = 0
    for ws in conns:
        if await recv(ws) == "across":
            got += 1
        await ws.close()
    return {"workers": sorted(workers), "conns": len(conns), "got": got, "publish": body}
run(main)
`

// With processes = 2 a publish on one worker reaches the subscribers on
// both, through the master's relay.
func TestPubsubAcrossWorkers(t *testing.T) {
	bin := testutil.Binary(t, "")
	extra := fmt.Sprintf(`
pubsub "default" {}
plugin "rt" {
  path   = %q
  mount  = "/rt"
  pubsub = ["default"]
  websocket {}
}
`, testutil.Plugin(t, "plugins/testplugins/rtraw"))
	p, _ := pfStart(t, bin, pfSite{Processes: 2, Extra: extra})
	out, err := exec.Command(testutil.PythonWebsockets(t), "-c", pubsubAcrossWorkers, "http://"+p.Addr).Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var r struct {
		Workers []string
		Conns   int
		Got     int
		Publish string
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(r.Workers) != 2 || r.Got != r.Conns || r.Publish != "published 0" {
		t.Errorf("connections on workers %v: %d of %d got the publish (%q)", r.Workers, r.Got, r.Conns, r.Publish)
	}
}

package host_test

import (
	"encoding/json"
	"testing"

	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
	"github.com/wasmhost/wasmhost/internal/status"
)

const hostileSite = `
pubsub "default" {}
plugin "ping" {
  path  = "{{rtraw}}"
  mount = "/ping"
  websocket {
    ping_interval = "300ms"
    ping_timeout  = "300ms"
  }
}
plugin "full" {
  path   = "{{rtraw}}"
  mount  = "/full"
  pubsub = ["default"]
  websocket {
    max_message_size = "1MB"
    send_buffer      = "64KB"
  }
}
`

// Clients that break the rules with a raw socket: one that never answers
// pings (dropped within ping_timeout), one that never reads while others
// publish to it (closed with 1008); the next client is served as usual.
func TestRealtimeHostileClients(t *testing.T) {
	s := startSite(t, hostileSite)
	out := realtimetest.Python(t, `
import base64, os, socket
def raw(base, path):
    host, port = base[7:].split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    return s, head.split(b" ")[1].decode()

def dropped(s, t):
    s.settimeout(t)
    try:
        while s.recv(65536):
            pass
        return True
    except socket.timeout:
        return False

async def main(base):
    r = {}
    p, r["ping_status"] = raw(base, "/ping/")
    await asyncio.sleep(1.5)
    r["ping_dropped"] = await asyncio.get_running_loop().run_in_executor(None, dropped, p, 5)
    q, r["full_status"] = raw(base, "/full/")
    import http.client
    h = http.client.HTTPConnection(base[7:], timeout=10)
    for _ in range(1000):  # 7 MB: past what the kernel buffers for q
        h.request("GET", "/full/publish?" + "x" * 7000)
        h.getresponse().read()
    await asyncio.sleep(0.5)
    async with connect("ws" + base[4:] + "/full/") as pub:
        await recv(pub)
        await pub.send("after")
        r["publisher"] = await recv(pub)
    q.close()
    return r
run(main)
`, s.base)
	var r struct {
		PingStatus  string `json:"ping_status"`
		PingDropped bool   `json:"ping_dropped"`
		FullStatus  string `json:"full_status"`
		Publisher   string
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.PingStatus != "101" || !r.PingDropped {
		t.Errorf("a client that never answers pings: upgrade %s, dropped %v", r.PingStatus, r.PingDropped)
	}
	if r.FullStatus != "101" || r.Publisher != "echo[one]:after" {
		t.Errorf("upgrade %s; the publisher got %q", r.FullStatus, r.Publisher)
	}
	closes := map[string]*status.Realtime{}
	for _, p := range s.srv.Status().Plugins {
		closes[p.Name] = p.Realtime
	}
	if rt := closes["ping"]; rt == nil || rt.Closes["1006"] != 1 {
		t.Errorf("ping: %+v", rt)
	}
	if rt := closes["full"]; rt == nil || rt.Closes["1008"] != 1 {
		t.Errorf("full: %+v", rt)
	}
}

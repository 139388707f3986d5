package realtime_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
)

func newServer(t *testing.T, endpoints map[string]realtime.Settings) *realtimetest.Server {
	t.Helper()
	hub, err := realtime.NewHub(nil, realtime.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	return realtimetest.NewServer(t, hub, endpoints)
}

func decode(t *testing.T, out []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
}

// Open keeps a value, text and binary messages echo, and the connection
// id has the hub's id as its prefix.
func TestPythonOpenEcho(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {}})
	out := realtimetest.Python(t, `
async def main(url):
    async with connect(url + "?user=ann") as ws:
        await ws.send("hello")
        echo = await recv(ws)
        await ws.send(b"\x00\x01\xff")
        binary = await recv(ws)
        await ws.send("user")
        user = await recv(ws)
        await ws.send("id")
        ident = await recv(ws)
        await ws.close(1000, "bye")
        return {"echo": echo, "binary": list(binary), "user": user, "id": ident, "code": ws.close_code}
run(main)
`, s.WS("/ws"))
	var got struct {
		Echo, User, ID string
		Binary         []int
		Code           int
	}
	decode(t, out, &got)
	if got.Echo != "hello" || got.User != "ann" || len(got.Binary) != 3 || got.Binary[2] != 255 || got.Code != 1000 {
		t.Fatalf("got %+v", got)
	}
	if realtime.HubOf(got.ID) != s.Hub.ID() {
		t.Fatalf("id %q is not of hub %q", got.ID, s.Hub.ID())
	}
	c := s.WaitClose(t, got.ID, 5*time.Second)
	if c.Code != 1000 || c.Reason != "bye" {
		t.Fatalf("Close event %+v", c)
	}
	st := s.Endpoints["/ws"].Stats()
	if st.MessagesIn != 4 || st.MessagesOut != 4 || st.Closes[1000] != 1 || st.Accepted != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A publish reaches every subscriber of its topic, the publisher
// included, and nobody else; SendTo reaches one connection by its id.
func TestPythonPublishSendTo(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {}})
	out := realtimetest.Python(t, `
async def main(url):
    subs = [await connect(url + "?topic=room") for _ in range(3)]
    other = await connect(url + "?topic=elsewhere")
    await subs[0].send("pub:room:hi all")
    got = [await recv(ws) for ws in subs]
    try:
        await asyncio.wait_for(other.recv(), 0.5)
        leaked = True
    except asyncio.TimeoutError:
        leaked = False
    await other.send("id")
    other_id = await recv(other)
    await subs[1].send("to:" + other_id + ":psst")
    private = await recv(other)
    await subs[1].send("to:" + other_id.rsplit(".", 1)[0] + ".zzz:nobody")
    missing = await recv(subs[1])
    for ws in subs + [other]:
        await ws.close()
    return {"got": got, "leaked": leaked, "private": private, "missing": missing}
run(main)
`, s.WS("/ws"))
	var got struct {
		Got              []string
		Leaked           bool
		Private, Missing string
	}
	decode(t, out, &got)
	if strings.Join(got.Got, "|") != "hi all|hi all|hi all" || got.Leaked || got.Private != "psst" ||
		got.Missing != "error: "+realtime.ErrNoConnection.Error() {
		t.Fatalf("got %+v", got)
	}
	hs := s.Hub.Stats()
	if hs.Published["room"] != 1 || hs.Delivered["room"] != 3 {
		t.Fatalf("hub stats %+v", hs)
	}
}

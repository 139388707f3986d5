package realtime_test

import (
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// A page of another site may not open a socket (403) unless its host is
// listed; an Open that refuses is a 403 too.
func TestPythonOriginAndRefusal(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{
		"/ws":  {},
		"/wso": {Origins: []string{"allowed.example", "*.friends.example"}},
		"/any": {Origins: []string{"*"}},
	})
	out := realtimetest.Python(t, `
async def main(base, own):
    r = {}
    r["none"] = await status_of(base + "/ws")
    r["own"] = await status_of(base + "/ws", origin=own)
    r["foreign"] = await status_of(base + "/ws", origin="http://evil.example")
    r["listed"] = await status_of(base + "/wso", origin="https://allowed.example")
    r["pattern"] = await status_of(base + "/wso", origin="https://a.friends.example")
    r["unlisted"] = await status_of(base + "/wso", origin="https://evil.example")
    r["any"] = await status_of(base + "/any", origin="https://evil.example")
    r["refused"] = await status_of(base + "/ws?refuse=1")
    return r
run(main)
`, s.WS(""), s.URL)
	var got map[string]int
	decode(t, out, &got)
	want := map[string]int{"none": 101, "own": 101, "foreign": 403, "listed": 101, "pattern": 101,
		"unlisted": 403, "any": 101, "refused": 403}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: status %d, want %d", k, got[k], v)
		}
	}
	st := s.Endpoints["/ws"].Stats()
	if st.Refused["origin"] != 1 || st.Refused["open"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Past max_connections an upgrade gets 503; a closed connection frees
// its place.
func TestPythonMaxConnections(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {MaxConnections: 2}})
	out := realtimetest.Python(t, `
async def main(url):
    a = await connect(url)
    b = await connect(url)
    third = await status_of(url)
    await a.close()
    for _ in range(50):  # the place is freed once the Close event has run
        after = await status_of(url)
        if after == 101:
            break
        await asyncio.sleep(0.05)
    await b.close()
    return {"third": third, "after": after}
run(main)
`, s.WS("/ws"))
	var got struct{ Third, After int }
	decode(t, out, &got)
	if got.Third != 503 || got.After != 101 {
		t.Fatalf("got %+v", got)
	}
}

// permessage-deflate is negotiated only where compression is on, and
// compressed messages echo intact.
func TestPythonCompression(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {}, "/wsz": {Compression: true}})
	out := realtimetest.Python(t, `
async def main(base):
    r = {}
    for path in ("/ws", "/wsz"):
        async with connect(base + path) as ws:
            msg = "compressible " * 1000
            await ws.send(msg)
            r[path] = {"ext": ws.response_headers.get("Sec-WebSocket-Extensions"), "echo": await recv(ws) == msg}
    return r
run(main)
`, s.WS(""))
	var got map[string]struct {
		Ext  *string
		Echo bool
	}
	decode(t, out, &got)
	if got["/ws"].Ext != nil || !got["/ws"].Echo {
		t.Fatalf("without compression: %+v", got["/ws"])
	}
	if e := got["/wsz"].Ext; e == nil || !strings.Contains(*e, "permessage-deflate") || !got["/wsz"].Echo {
		t.Fatalf("with compression: %+v", got["/wsz"])
	}
}

// A plain request on an endpoint is not an upgrade; the host routes
// those to the plugin's HTTP handler, Accept answers 400.
func TestNotUpgrade(t *testing.T) {
	s := newServer(t, map[string]realtime.Settings{"/ws": {}})
	r := httptest.NewRequest("GET", "/ws", nil)
	if realtime.IsUpgrade(r) {
		t.Fatal("a plain GET is an upgrade")
	}
	r.Header.Set("Connection", "keep-alive, Upgrade")
	r.Header.Set("Upgrade", "WebSocket")
	if !realtime.IsUpgrade(r) {
		t.Fatal("an upgrade is not recognised")
	}
	curl := testutil.Need(t, "curl")
	out, err := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", s.URL+"/ws").Output()
	if err != nil || string(out) != "400" {
		t.Fatalf("curl: %s %v", out, err)
	}
}

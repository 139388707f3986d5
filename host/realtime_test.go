package host_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
	"github.com/wasmhost/wasmhost/internal/status"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

func init() { plugins["rtraw"] = "plugins/testplugins/rtraw" }

const realtimeSite = `
pubsub "default" {}
plugin "rt" {
  path    = "{{rtraw}}"
  mount   = "/rt"
  timeout = "1s"
  pubsub  = ["default"]
  websocket {
    max_message_size = "1KB"
    origins          = ["ok.example"]
    max_connections  = 4
  }
}
`

// The guest's events through a Python client: open, values, echo, send_to,
// publish to every subscriber, a message past max_message_size (1009),
// a looping event (1011, the other connection unaffected), a trap
// (1011), the plugin's own close (4000), a refused open (the guest's
// 401), a foreign Origin (403) and max_connections (503).
func TestRealtimeEventsThroughPython(t *testing.T) {
	s := startSite(t, realtimeSite)
	ws := "ws" + strings.TrimPrefix(s.base, "http") + "/rt/"
	out := realtimetest.Python(t, `
async def main(url):
    r = {}
    async with connect(url + "?user=a") as a, connect(url + "?user=b") as b:
        ha, hb = await recv(a), await recv(b)
        r["hello"] = ha.startswith("hello ") and hb.startswith("hello ")
        await b.send("to " + ha.split()[1] + " direct"); r["sendto"] = [await recv(a), await recv(b)]
        await b.send("to " + ha.split()[1] + "0 x"); r["sendto_gone"] = await recv(b)
        await a.send("hi"); r["echo"] = await recv(a)
        await a.send("get"); r["get"] = await recv(a)
        await a.send("start"); r["start"] = await recv(a)
        await a.send("pub yo"); r["pub"] = [await recv(a), await recv(b)]
        await b.send("loop"); r["loop"] = await closed_code(b)
        await a.send("still"); r["after_loop"] = await recv(a)
        await a.send("x" * 2000); r["big"] = await closed_code(a)
    async with connect(url) as c:
        await recv(c); await c.send("oob"); r["oob"] = await closed_code(c)
    async with connect(url) as c:
        await recv(c); await c.send("close"); r["close"] = [await closed_code(c), c.close_reason]
    r["refused"] = await status_of(url + "?refuse")
    r["origin"] = await status_of(url, origin="https://evil.example")
    r["origin_ok"] = await status_of(url, origin="https://ok.example")
    conns = [await connect(url) for _ in range(4)]
    r["limit"] = await status_of(url)
    for c in conns: await c.close()
    return r
run(main)
`, ws)
	var r struct {
		Hello            bool
		SendTo           []string `json:"sendto"`
		SendToGone       string   `json:"sendto_gone"`
		Echo, Get, Start string
		Pub              []string
		Loop             int
		AfterLoop        string `json:"after_loop"`
		Big, Oob         int
		Close            []any
		Refused, Origin  int
		OriginOK         int `json:"origin_ok"`
		Limit            int
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !r.Hello || r.Echo != "echo[one]:hi" || r.Get != "q=user=a" || r.Start != "start_response -1" {
		t.Errorf("open and messages: %s", out)
	}
	if len(r.SendTo) != 2 || r.SendTo[0] != "direct" || r.SendTo[1] != "send_to 0" || r.SendToGone != "send_to -20" {
		t.Errorf("pubsub_send_to: %q, to a connection that is not open: %q", r.SendTo, r.SendToGone)
	}
	if len(r.Pub) != 2 || r.Pub[0] != "yo" || r.Pub[1] != "yo" {
		t.Errorf("publish reached %q", r.Pub)
	}
	if r.Loop != 1011 || r.AfterLoop != "echo[one]:still" || r.Oob != 1011 {
		t.Errorf("a looping event closed with %d (the other connection then got %q), a trap with %d", r.Loop, r.AfterLoop, r.Oob)
	}
	if r.Big != 1009 {
		t.Errorf("a message past max_message_size closed with %d", r.Big)
	}
	if len(r.Close) != 2 || r.Close[0] != float64(4000) || r.Close[1] != "bye" {
		t.Errorf("conn_close: %v", r.Close)
	}
	if r.Refused != 401 || r.Origin != 403 || r.OriginOK != 101 || r.Limit != 503 {
		t.Errorf("refused open %d, foreign origin %d, allowed origin %d, past max_connections %d", r.Refused, r.Origin, r.OriginOK, r.Limit)
	}
	// Plain HTTP on the mount still reaches the handler, where the
	// connection calls are out of place and publishing works.
	if _, body := s.get(t, "/rt/"); body != "http one" {
		t.Errorf("plain GET: %q", body)
	}
	if _, body := s.get(t, "/rt/conn"); body != "conn_send -1" {
		t.Errorf("conn_send in an HTTP request: %q", body)
	}
	checkRealtimeCounters(t, s)
}

// checkRealtimeCounters reads what TestRealtimeEventsThroughPython did
// in /status and /metrics (GET through the admin handler).
func checkRealtimeCounters(t *testing.T, s *site) {
	var rt *status.Realtime
	st := s.srv.Status()
	for _, p := range st.Plugins {
		if p.Name == "rt" {
			rt = p.Realtime
		}
	}
	if rt == nil {
		t.Fatalf("/status has no realtime counters for rt: %+v", st.Plugins)
	}
	if rt.Closes["1009"] != 1 || rt.Closes["1011"] != 2 || rt.Closes["4000"] != 1 || rt.Refused["origin"] != 1 ||
		rt.Refused["limit"] != 1 || rt.Refused["open"] != 1 || rt.MessagesIn != 10 || rt.MessagesOut < 10 {
		t.Errorf("/status realtime: %+v", rt)
	}
	if len(st.Pubsub) != 1 || st.Pubsub[0].Published["room"] != 1 {
		t.Errorf("/status pubsub: %+v", st.Pubsub)
	}
	rec := httptest.NewRecorder()
	s.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`wasmhost_websocket_closes_total{worker="0",plugin="rt",code="1011"} 2`,
		`wasmhost_websocket_refused_total{worker="0",plugin="rt",reason="limit"} 1`,
		`wasmhost_pubsub_published_total{worker="0",pubsub="default",topic="room"} 1`,
		`wasmhost_websocket_connections{worker="0",plugin="rt"} `,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// An event stream through curl: the guest returns at once (no instance
// busy while the stream is open) and a publish from another request
// arrives as an event.
func TestRealtimeEventStreamThroughCurl(t *testing.T) {
	s := startSite(t, realtimeSite)
	curl := testutil.Need(t, "curl")
	cmd := exec.Command(curl, "-sN", "--max-time", "20", s.base+"/rt/events")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if l := <-lines; l != ": stream open" {
		t.Fatalf("first line %q", l)
	}
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		resp, err := http.Get(s.base + "/rt/publish?news-" + string(rune('a'+i%26)))
		if err == nil {
			resp.Body.Close()
		}
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			if strings.HasPrefix(l, "data: news-") {
				return
			}
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no event arrived")
		}
	}
}

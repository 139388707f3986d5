package host_test

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

func init() { plugins["chat"] = "plugins/examples/chat" }

const chatSite = `
pubsub "default" {}
plugin "chat" {
  path   = "{{chat}}"
  mount  = "/chat"
  pubsub = ["default"]
  websocket {}
}
`

// The example chat room, through the SDK (sdk.HandleWebSocket, Conn.Set
// and Get, Subscribe, sdk.Publish, sdk.ServeEvents) and a Python client:
// an Open without a name is refused with 403, a join and each message
// reach every member, a binary message is closed with the plugin's 4003,
// and the room's event stream (curl) gets the same messages.
func TestChatExampleThroughTheSDK(t *testing.T) {
	s := startSite(t, chatSite)
	lines := curlEventStream(t, s.base+"/chat/events")
	if l := <-lines; !strings.HasPrefix(l, ":") {
		t.Fatalf("the event stream began with %q", l)
	}
	ws := "ws" + strings.TrimPrefix(s.base, "http") + "/chat/"
	out := realtimetest.Python(t, `
async def main(url):
    r = {}
    r["anonymous"] = await status_of(url)
    async with connect(url + "?user=ann") as a:
        r["ann_join"] = await recv(a)
        async with connect(url + "?user=bob") as b:
            r["bob_join"] = [await recv(a), await recv(b)]
            await a.send("hello")
            r["hello"] = [await recv(a), await recv(b)]
            await b.send(b"\x00")
            r["binary"] = await closed_code(b)
        r["left"] = await recv(a)
    return r
run(main)
`, ws)
	var r struct {
		Anonymous int
		AnnJoin   string   `json:"ann_join"`
		BobJoin   []string `json:"bob_join"`
		Hello     []string
		Binary    int
		Left      string
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Anonymous != 403 {
		t.Errorf("an Open without a name answered %d, want 403", r.Anonymous)
	}
	if r.AnnJoin != "* ann joined" || strings.Join(r.BobJoin, "|") != "* bob joined|* bob joined" {
		t.Errorf("joins: %q, %q", r.AnnJoin, r.BobJoin)
	}
	if strings.Join(r.Hello, "|") != "ann: hello|ann: hello" {
		t.Errorf("a message reached %q", r.Hello)
	}
	if r.Binary != 4003 || r.Left != "* bob left" {
		t.Errorf("binary message closed with %d; then ann got %q", r.Binary, r.Left)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if l == "data: ann: hello" {
				return
			}
		case <-deadline:
			t.Fatal("the event stream never carried ann's message")
		}
	}
}

// curlEventStream follows an event stream with curl and returns its lines;
// the stream ends with the test.
func curlEventStream(t *testing.T, url string) <-chan string {
	t.Helper()
	curl := testutil.Need(t, "curl")
	cmd := exec.Command(curl, "-sN", "--max-time", "60", url)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

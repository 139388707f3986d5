//go:build !wasip1

package sdk

import (
	"bufio"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/abi"
)

// chatHandlers are the shape of a chat room: Open names the user and joins
// the room, Message publishes to it, Close says goodbye.
func chatHandlers(t *testing.T) (closes *[]string) {
	t.Helper()
	var seen []string
	old := registeredWS
	t.Cleanup(func() { registeredWS = old })
	HandleWebSocket(WebSocket{
		Open: func(c *Conn, r *http.Request) error {
			user := r.URL.Query().Get("user")
			if user == "" {
				return errors.New("who are you?")
			}
			if err := c.Set("user", user); err != nil {
				return err
			}
			return c.Subscribe("room")
		},
		Message: func(c *Conn, m Message) {
			if string(m.Data) == "bye" {
				c.Close(4000, "asked")
				return
			}
			Publish("room", []byte(c.Get("user")+": "+string(m.Data)))
			c.Send([]byte("ack"))
		},
		Close: func(c *Conn, code int, reason string) {
			seen = append(seen, c.Get("user")+" left")
		},
	})
	return &seen
}

func texts(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Data))
	}
	return out
}

func TestNativeWebSocketRoom(t *testing.T) {
	closes := chatHandlers(t)
	if _, err := OpenTestConn(httptest.NewRequest("GET", "/chat", nil)); err == nil || err.Error() != "who are you?" {
		t.Fatalf("an Open without a user = %v, want its refusal", err)
	}
	ann, err := OpenTestConn(httptest.NewRequest("GET", "/chat?user=ann", nil))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := OpenTestConn(httptest.NewRequest("GET", "/chat?user=bob", nil))
	if err != nil {
		t.Fatal(err)
	}
	if ann.ID() == bob.ID() {
		t.Fatalf("two connections share the id %q", ann.ID())
	}
	ann.Send([]byte("hi"))
	if got := strings.Join(texts(ann.Received()), "|"); got != "ack|ann: hi" && got != "ann: hi|ack" {
		t.Errorf("ann received %q", got)
	}
	if got := strings.Join(texts(bob.Received()), "|"); got != "ann: hi" {
		t.Errorf("bob received %q", got)
	}
	if err := SendTo(bob.ID(), []byte("psst")); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts(bob.Received()), "|"); got != "psst" {
		t.Errorf("bob received %q after SendTo", got)
	}
	bob.Send([]byte("bye"))
	if code, reason, closed := bob.Closed(); !closed || code != 4000 || reason != "asked" {
		t.Errorf("after bye: closed=%v %d %q", closed, code, reason)
	}
	if err := SendTo(bob.ID(), []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("SendTo a closed connection = %v, want ErrNotFound", err)
	}
	ann.Send([]byte("anyone?"))
	if got := texts(bob.Received()); len(got) != 0 {
		t.Errorf("a closed connection still received %q", got)
	}
	ann.CloseFromClient(1000, "")
	if strings.Join(*closes, ",") != "ann left" {
		t.Errorf("Close events: %q", *closes)
	}
}

func TestNativeConnValuesAreBounded(t *testing.T) {
	old := registeredWS
	defer func() { registeredWS = old }()
	var setErr error
	HandleWebSocket(WebSocket{Open: func(c *Conn, r *http.Request) error {
		if err := c.Set("a", strings.Repeat("x", 4000)); err != nil {
			return err
		}
		setErr = c.Set("b", strings.Repeat("y", 200))
		return nil
	}})
	if _, err := OpenTestConn(httptest.NewRequest("GET", "/", nil)); err != nil {
		t.Fatal(err)
	}
	if setErr == nil {
		t.Errorf("values past %d bytes were accepted", abi.MaxConnValueBytes)
	}
}

func TestNativeServeEvents(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ServeEvents(w, r, "news"); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(10 * time.Second)
	for {
		Publish("news", []byte("one\ntwo")) // until the stream has subscribed
		select {
		case l := <-lines:
			if strings.HasPrefix(l, "id: ") {
				if d1, d2 := <-lines, <-lines; d1 != "data: one" || d2 != "data: two" {
					t.Fatalf("event lines %q %q", d1, d2)
				}
				return
			}
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("no event arrived")
		}
	}
}

// An event through serve, as the host delivers it: the upgrade's environ,
// the event keys and the connection's values, and for a message its data
// as the body.
func TestServeEventDispatch(t *testing.T) {
	old, oldConn := registeredWS, eventConn
	defer func() { registeredWS, eventConn = old, oldConn }()
	var got []string
	HandleWebSocket(WebSocket{
		Open: func(c *Conn, r *http.Request) error {
			got = append(got, "open "+c.ID()+" "+r.URL.Path+" "+r.Header.Get("Origin")+" "+Environ(r)[abi.KeyPlugin])
			return errors.New("no")
		},
		Message: func(c *Conn, m Message) { got = append(got, "message "+c.Get("user")+" "+string(m.Data)) },
		Close:   func(c *Conn, code int, reason string) { got = append(got, "close "+reason) },
	})
	eventConn = &TestConn{}
	env := func(kind string, extra ...string) []byte {
		b := abi.AppendPair(nil, abi.KeyRequestMethod, "GET")
		b = abi.AppendPair(b, abi.KeyRequestURI, "/chat?x=1")
		b = abi.AppendPair(b, "HTTP_ORIGIN", "http://a.example")
		b = abi.AppendPair(b, abi.KeyPlugin, "chat")
		b = abi.AppendPair(b, abi.KeyEvent, kind)
		b = abi.AppendPair(b, abi.KeyConnID, "c1")
		b = abi.AppendPair(b, abi.KeyConnValuePrefix+"user", "ann")
		for i := 0; i+1 < len(extra); i += 2 {
			b = abi.AppendPair(b, extra[i], extra[i+1])
		}
		return b
	}
	open := &fakeHost{environ: env(abi.EventOpen)}
	if rc := serve(open, int32(len(open.environ)), abi.FlagEvent); rc != abi.HandleOK || open.status != 403 || open.out.String() != "no\n" {
		t.Errorf("refused open: rc %d, status %d, body %q", rc, open.status, open.out.String())
	}
	msg := &fakeHost{environ: env(abi.EventMessage, abi.KeyMessageType, "text"), body: []byte("hello")}
	serve(msg, int32(len(msg.environ)), abi.FlagEvent|abi.FlagHasBody)
	cl := &fakeHost{environ: env(abi.EventClose, abi.KeyCloseCode, "1000", abi.KeyCloseReason, "done")}
	serve(cl, int32(len(cl.environ)), abi.FlagEvent)
	want := "open c1 /chat http://a.example chat|message ann hello|close done"
	if strings.Join(got, "|") != want {
		t.Errorf("events:\n got %q\nwant %q", strings.Join(got, "|"), want)
	}
	bad := &fakeHost{environ: env("dance")}
	if rc := serve(bad, int32(len(bad.environ)), abi.FlagEvent); rc != abi.HandleFailed {
		t.Errorf("an unknown event kind gave %d", rc)
	}
}

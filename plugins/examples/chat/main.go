// Command chat is a chat room on host-held WebSockets: the page at the
// plugin's mount opens a WebSocket to the same mount, each message is
// published to the room's topic, and every connection subscribed to it,
// on every worker, receives it. /events is the same room as a read-only
// server-sent event stream. No instance is held between messages: who a
// connection is lives in its per-connection values.
package main

import (
	_ "embed"
	"errors"
	"net/http"
	"strings"

	"github.com/wasmhost/wasmhost/sdk"
)

const room = "room:lobby"

//go:embed page.html
var page []byte

func init() {
	sdk.HandleWebSocket(sdk.WebSocket{Open: open, Message: message, Close: leave})
	sdk.Handle(http.HandlerFunc(serve))
}

func open(c *sdk.Conn, r *http.Request) error {
	user := strings.TrimSpace(r.URL.Query().Get("user"))
	if user == "" || len(user) > 32 {
		return errors.New("chat: choose a name of 1 to 32 characters (?user=NAME)")
	}
	if err := c.Set("user", user); err != nil {
		return err
	}
	if err := c.Subscribe(room); err != nil {
		return err
	}
	return sdk.Publish(room, []byte("* "+user+" joined"))
}

func message(c *sdk.Conn, m sdk.Message) {
	if m.Binary {
		c.Close(4003, "text messages only")
		return
	}
	sdk.Publish(room, []byte(c.Get("user")+": "+string(m.Data)))
}

func leave(c *sdk.Conn, code int, reason string) {
	sdk.Publish(room, []byte("* "+c.Get("user")+" left"))
}

func serve(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, sdk.Environ(r)["SCRIPT_NAME"]) {
	case "/events":
		if err := sdk.ServeEvents(w, r, room); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	case "/", "":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	default:
		http.NotFound(w, r)
	}
}

func main() {}

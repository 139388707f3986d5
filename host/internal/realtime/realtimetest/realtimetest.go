// Package realtimetest is a test server for the realtime packages: a Go
// Events implementation that stands in for a plugin, endpoints and an
// event stream on an httptest server, and runners for the Python and
// Node clients the tests drive it with.
package realtimetest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
)

// Closed is one Close event the test plugin saw.
type Closed struct {
	ID     string
	Code   int
	Reason string
}

// Events is the test plugin. Open refuses ?refuse, keeps ?user and
// subscribes to each ?topic. A text message is a command:
//
//	id, user            answer the connection's id, its "user" value
//	loop                run until the event's deadline (a guest interrupted)
//	panic               fail the event
//	pub:TOPIC:TEXT      publish TEXT to TOPIC
//	to:ID:TEXT          send TEXT to connection ID (answering an error)
//	flood:N:SIZE        send N messages of SIZE bytes, one a millisecond, until one fails
//	close:CODE:REASON   close the connection
//
// and anything else (binary included) is echoed.
type Events struct {
	Hub    *realtime.Hub
	Closes chan Closed
}

// Open implements realtime.Events.
func (e *Events) Open(ctx context.Context, c *realtime.Conn, r *http.Request) error {
	q := r.URL.Query()
	if q.Has("refuse") {
		return errors.New("refused by the plugin")
	}
	if err := c.Set("user", q.Get("user")); err != nil {
		return err
	}
	for _, t := range q["topic"] {
		if err := c.Subscribe(t); err != nil {
			return err
		}
	}
	return nil
}

// Message implements realtime.Events.
func (e *Events) Message(ctx context.Context, c *realtime.Conn, m realtime.Message) error {
	if m.Binary {
		return c.Send(m.Data, true)
	}
	cmd, arg, _ := strings.Cut(string(m.Data), ":")
	switch cmd {
	case "id":
		return c.Send([]byte(c.ID()), false)
	case "user":
		return c.Send([]byte(c.Get("user")), false)
	case "loop":
		<-ctx.Done()
		return ctx.Err()
	case "panic":
		panic("the plugin failed")
	case "pub":
		topic, text, _ := strings.Cut(arg, ":")
		return e.Hub.Publish(ctx, topic, []byte(text))
	case "to":
		id, text, _ := strings.Cut(arg, ":")
		if err := e.Hub.SendTo(ctx, id, []byte(text)); err != nil {
			return c.Send([]byte("error: "+err.Error()), false) // a plugin answers it
		}
		return nil
	case "flood":
		n, size, _ := strings.Cut(arg, ":")
		count, _ := strconv.Atoi(n)
		bytes, _ := strconv.Atoi(size)
		data := []byte(strings.Repeat("x", bytes))
		for range count {
			if c.Send(data, false) != nil {
				break
			}
			time.Sleep(time.Millisecond) // a pace a reading client keeps up with
		}
		return nil
	case "close":
		code, reason, _ := strings.Cut(arg, ":")
		n, _ := strconv.Atoi(code)
		c.Close(n, reason)
		return nil
	}
	return c.Send(m.Data, false)
}

// Close implements realtime.Events.
func (e *Events) Close(ctx context.Context, c *realtime.Conn, code int, reason string) {
	select {
	case e.Closes <- Closed{ID: c.ID(), Code: code, Reason: reason}:
	default:
	}
}

// Server is an httptest server with endpoints on paths of its choosing,
// /events?topic=... (an event stream) and POST /publish?topic=...
type Server struct {
	*httptest.Server
	Hub       *realtime.Hub
	Events    *Events
	Endpoints map[string]*realtime.Endpoint
	Stream    realtime.StreamOptions // read by every request: set it with NewServerStreams
}

// NewServer serves endpoints, one per path with its settings, over hub.
func NewServer(t testing.TB, hub *realtime.Hub, endpoints map[string]realtime.Settings) *Server {
	t.Helper()
	return NewServerStreams(t, hub, endpoints, realtime.StreamOptions{})
}

// NewServerStreams is NewServer with the event streams' options.
func NewServerStreams(t testing.TB, hub *realtime.Hub, endpoints map[string]realtime.Settings, so realtime.StreamOptions) *Server {
	t.Helper()
	s := &Server{Stream: so, Hub: hub, Events: &Events{Hub: hub, Closes: make(chan Closed, 4096)}, Endpoints: map[string]*realtime.Endpoint{}}
	mux := http.NewServeMux()
	for path, set := range endpoints {
		ep := realtime.NewEndpoint(hub, s.Events, set)
		s.Endpoints[path] = ep
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { ep.Accept(w, r) })
	}
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		if err := hub.ServeEvents(w, r, s.Stream, r.URL.Query()["topic"]...); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if err := hub.Publish(r.Context(), r.URL.Query().Get("topic"), b); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, ep := range s.Endpoints {
			ep.Shutdown(ctx, 1001, "test over")
		}
		s.Server.Close()
	})
	return s
}

// WS is the ws:// URL of path.
func (s *Server) WS(path string) string { return "ws" + strings.TrimPrefix(s.URL, "http") + path }

// WaitClose waits for the Close event of connection id (any, for "").
func (s *Server) WaitClose(t testing.TB, id string, within time.Duration) Closed {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case c := <-s.Events.Closes:
			if id == "" || c.ID == id {
				return c
			}
		case <-deadline:
			t.Fatalf("no Close event for %q within %v", id, within)
		}
	}
}

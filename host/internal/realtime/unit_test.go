package realtime

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	in := Envelope{Kind: KindSendTo, Origin: "hub", ID: "hub-1", Topic: "t", Target: "hub.2", Data: []byte("x\x00y")}
	b, _ := in.MarshalBinary()
	var out Envelope
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if out.Kind != in.Kind || out.Origin != in.Origin || out.ID != in.ID || out.Topic != in.Topic ||
		out.Target != in.Target || !bytes.Equal(out.Data, in.Data) {
		t.Fatalf("%+v != %+v", out, in)
	}
	for _, n := range []int{0, 1, 3, 7} { // cut inside the names
		if (&Envelope{}).UnmarshalBinary(b[:n]) == nil {
			t.Fatalf("an envelope cut at %d bytes decoded", n)
		}
	}
}

func TestHistoryBounds(t *testing.T) {
	h := newHistory(3, 10)
	for i := range 5 {
		h.add(&message{id: strconv.Itoa(i), topic: "a", data: []byte("xx")})
	}
	if _, ok := h.since("1", []string{"a"}); ok {
		t.Fatal("an evicted id replays")
	}
	ms, ok := h.since("2", []string{"a"})
	if !ok || len(ms) != 2 || ms[0].id != "3" {
		t.Fatalf("since 2: %v %v", ms, ok)
	}
	h.add(&message{id: "big", topic: "b", data: []byte(strings.Repeat("x", 9))})
	if len(h.buf) != 1 || h.size != 9 {
		t.Fatalf("bytes bound: %d messages, %d bytes", len(h.buf), h.size)
	}
}

func TestValuesBound(t *testing.T) {
	c := newConn(nil, "h.1")
	if err := c.Set("user", strings.Repeat("u", MaxValues-4)); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("more", "x"); err != ErrValues {
		t.Fatalf("past 4 KiB: %v", err)
	}
	if err := c.Set("user", "ann"); err != nil || c.Get("user") != "ann" {
		t.Fatalf("replace: %v %q", err, c.Get("user"))
	}
	c.Set("user", "")
	if len(c.Values()) != 0 || c.valuesSize != 0 {
		t.Fatalf("delete: %v %d", c.Values(), c.valuesSize)
	}
}

func TestConnIDs(t *testing.T) {
	a, _ := NewHub(nil, HubOptions{})
	b, _ := NewHub(nil, HubOptions{})
	if a.ID() == b.ID() || len(a.ID()) != 20 {
		t.Fatalf("hub ids %q %q", a.ID(), b.ID())
	}
	id := a.newConnID()
	if HubOf(id) != a.ID() || id == a.newConnID() {
		t.Fatalf("conn id %q", id)
	}
	if a.Conn(id) != nil || a.SendTo(t.Context(), id, nil) != ErrNoConnection ||
		a.SendTo(t.Context(), b.newConnID(), nil) != ErrNoConnection {
		t.Fatal("an id that is not open resolves")
	}
}

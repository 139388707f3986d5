package loader

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
)

// fakeConn records what the realtime calls do to a connection.
type fakeConn struct {
	sent   []string
	values map[string]string
	topics map[string]bool
	closed string
	full   bool // Send answers as a connection whose send buffer filled
}

type codedErr int32

func (e codedErr) Error() string { return "coded" }
func (e codedErr) Errno() int32  { return int32(e) }

func (c *fakeConn) Send(data []byte, binary bool) error {
	if c.full {
		return codedErr(abi.ErrTooLarge)
	}
	kind := "t:"
	if binary {
		kind = "b:"
	}
	c.sent = append(c.sent, kind+string(data))
	return nil
}
func (c *fakeConn) Set(k, v string) error {
	if len(k)+len(v) > 10 {
		return codedErr(abi.ErrTooLarge)
	}
	c.values[k] = v
	return nil
}
func (c *fakeConn) Close(code int, reason string) { c.closed = reason }
func (c *fakeConn) Subscribe(t string) error      { c.topics[t] = true; return nil }
func (c *fakeConn) Unsubscribe(t string)          { delete(c.topics, t) }

type fakePubsub struct{ published []string }

func (p *fakePubsub) Publish(_ context.Context, topic string, data []byte) error {
	if topic == "broken" {
		return errors.New("backend down")
	}
	p.published = append(p.published, topic+"="+string(data))
	return nil
}
func (p *fakePubsub) SendTo(_ context.Context, id string, data []byte) error {
	if id == "gone" {
		return codedErr(abi.ErrNotFound)
	}
	p.published = append(p.published, "to "+id+"="+string(data))
	return nil
}

// realtimeEx is an exchange of the realtime calls; conn nil makes it an
// HTTP request's, ps nil one without a pubsub grant.
type realtimeEx struct {
	checkingExchange
	conn   *fakeConn
	ps     *fakePubsub
	served []string
}

func (e *realtimeEx) Conn() EventConn {
	if e.conn == nil {
		return nil
	}
	return e.conn
}
func (e *realtimeEx) Pubsub() Pubsub {
	if e.ps == nil {
		return nil
	}
	return e.ps
}
func (e *realtimeEx) ServeEvents(topics []string) int32 { e.served = topics; return 0 }

func realtimeCall(t *testing.T, ex Exchange) (context.Context, sliceMemory, func(int, string) (uint64, uint64)) {
	inst := &instance{plugin: &Plugin{Name: "p", log: hclog.NewNullLogger()}, ex: ex}
	mem := make(sliceMemory, 1<<16)
	put := func(off int, s string) (uint64, uint64) { copy(mem[off:], s); return uint64(off), uint64(len(s)) }
	return &callContext{Context: context.Background(), inst: inst}, mem, put
}

func TestRealtimeHostFunctionsInEvent(t *testing.T) {
	conn := &fakeConn{values: map[string]string{}, topics: map[string]bool{}}
	ps := &fakePubsub{}
	ctx, mem, put := realtimeCall(t, &realtimeEx{conn: conn, ps: ps})
	p, n := put(0, "hello")
	if r, _ := hostCall(ctx, mem, abi.ImportConnSend, p, n, 0); r != 0 {
		t.Errorf("conn_send = %d", r)
	}
	mem[0] = 'j' // the connection keeps its own copy
	if r, _ := hostCall(ctx, mem, abi.ImportConnSend, p, n, abi.ConnBinary); r != 0 || strings.Join(conn.sent, ",") != "t:hello,b:jello" {
		t.Errorf("conn_send binary = %d, sent %q", r, conn.sent)
	}
	bad, bn := put(100, "\xff\xfe")
	if r, _ := hostCall(ctx, mem, abi.ImportConnSend, bad, bn, 0); r != abi.ErrInvalid {
		t.Errorf("conn_send of text that is not UTF-8 = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportConnSend, p, n, 4); r != abi.ErrInvalid {
		t.Errorf("conn_send with an unknown flag = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportConnSend, 0, abi.MaxWriteBytes+1, 0); r != abi.ErrTooLarge {
		t.Errorf("conn_send past MaxWriteBytes = %d", r)
	}
	conn.full = true
	if r, _ := hostCall(ctx, mem, abi.ImportConnSend, p, n, 0); r != abi.ErrTooLarge {
		t.Errorf("conn_send into a full send buffer = %d", r)
	}

	k, kn := put(200, "user")
	v, vn := put(300, "ann")
	if r, _ := hostCall(ctx, mem, abi.ImportConnSet, k, kn, v, vn); r != 0 || conn.values["user"] != "ann" {
		t.Errorf("conn_set = %d, %v", r, conn.values)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportConnSet, k, kn, v, abi.MaxConnValueBytes); r != abi.ErrTooLarge {
		t.Errorf("conn_set past MaxConnValueBytes = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportConnSet, k, kn, 400, 20); r != abi.ErrTooLarge {
		t.Errorf("conn_set past the connection's bound = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportConnSet, k, 0, v, vn); r != abi.ErrInvalid {
		t.Errorf("conn_set with an empty key = %d", r)
	}

	tp, tn := put(500, "room")
	if r, _ := hostCall(ctx, mem, abi.ImportConnSubscribe, tp, tn); r != 0 || !conn.topics["room"] {
		t.Errorf("conn_subscribe = %d", r)
	}
	for _, n := range []uint64{0, abi.MaxTopicBytes + 1, 1 << 31} {
		if r, _ := hostCall(ctx, mem, abi.ImportConnSubscribe, tp, n); r != abi.ErrInvalid {
			t.Errorf("conn_subscribe of a %d-byte topic = %d", n, r)
		}
	}
	if r, _ := hostCall(ctx, mem, abi.ImportConnUnsubscribe, tp, tn); r != 0 || conn.topics["room"] {
		t.Errorf("conn_unsubscribe = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportPubsubPublish, tp, tn, p, n); r != 0 || ps.published[0] != "room=jello" {
		t.Errorf("pubsub_publish = %d, %q", r, ps.published)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportServeEvents, 0, 0); r != abi.ErrState {
		t.Errorf("serve_events in an event = %d", r)
	}

	for _, c := range []struct {
		code uint64
		n    uint64
		want int32
	}{{1000, 3, 0}, {4999, 3, 0}, {3000, 0, 0}, {1001, 3, abi.ErrInvalid}, {1011, 3, abi.ErrInvalid}, {2999, 3, abi.ErrInvalid},
		{5000, 3, abi.ErrInvalid}, {1000, 124, abi.ErrInvalid}, {1<<32 - 1, 3, abi.ErrInvalid}} {
		if r, _ := hostCall(ctx, mem, abi.ImportConnClose, c.code, 300, c.n); r != c.want {
			t.Errorf("conn_close(%d, %d bytes) = %d, want %d", c.code, c.n, r, c.want)
		}
	}
	if r, _ := hostCall(ctx, mem, abi.ImportConnClose, 1000, bad, bn); r != abi.ErrInvalid {
		t.Errorf("conn_close with a reason that is not UTF-8 = %d", r)
	}
}

func TestRealtimeHostFunctionsOutsideEvent(t *testing.T) {
	ps := &fakePubsub{}
	ex := &realtimeEx{ps: ps}
	ctx, mem, put := realtimeCall(t, ex)
	p, n := put(0, "data")
	tp, tn := put(100, "room")
	for _, c := range []struct {
		fn   string
		args []uint64
	}{
		{abi.ImportConnSend, []uint64{p, n, 0}},
		{abi.ImportConnSet, []uint64{p, n, p, n}},
		{abi.ImportConnClose, []uint64{1000, p, n}},
		{abi.ImportConnSubscribe, []uint64{tp, tn}},
		{abi.ImportConnUnsubscribe, []uint64{tp, tn}},
	} {
		if r, _ := hostCall(ctx, mem, c.fn, c.args...); r != abi.ErrState {
			t.Errorf("%s in an HTTP request = %d, want ErrState", c.fn, r)
		}
	}
	// From an HTTP request, publishing and sending work.
	if r, _ := hostCall(ctx, mem, abi.ImportPubsubSendTo, tp, tn, p, n); r != 0 || ps.published[0] != "to room=data" {
		t.Errorf("pubsub_send_to = %d, %q", r, ps.published)
	}
	gp, gn := put(200, "gone")
	if r, _ := hostCall(ctx, mem, abi.ImportPubsubSendTo, gp, gn, p, n); r != abi.ErrNotFound {
		t.Errorf("pubsub_send_to a closed connection = %d", r)
	}
	bp, bn := put(300, "broken")
	held := func() string {
		n, _ := hostCall(ctx, mem, abi.ImportResultGet, 0, 0)
		hostCall(ctx, mem, abi.ImportResultGet, 60000, uint64(n))
		return string(mem[60000 : 60000+n])
	}
	if r, _ := hostCall(ctx, mem, abi.ImportPubsubPublish, bp, bn, p, n); r != abi.ErrService || held() != "backend down" {
		t.Errorf("pubsub_publish on a failing backend = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportPubsubPublish, tp, tn, p, abi.MaxPublishBytes+1); r != abi.ErrTooLarge {
		t.Errorf("pubsub_publish past MaxPublishBytes = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportPubsubPublish, tp, 0, p, n); r != abi.ErrInvalid {
		t.Errorf("pubsub_publish to an empty topic = %d", r)
	}

	list := abi.AppendString(abi.AppendString(nil, "a"), "b")
	copy(mem[1000:], list)
	if r, _ := hostCall(ctx, mem, abi.ImportServeEvents, 1000, uint64(len(list))); r != 0 || strings.Join(ex.served, ",") != "a,b" {
		t.Errorf("serve_events = %d, %q", r, ex.served)
	}
	var many []byte
	for range abi.MaxServeTopics + 1 {
		many = abi.AppendString(many, "t")
	}
	copy(mem[2000:], many)
	for name, l := range map[string][]byte{"65 topics": many, "an empty list": nil, "an empty topic": abi.AppendString(nil, ""),
		"a cut list": list[:len(list)-1], "a long topic": abi.AppendString(nil, strings.Repeat("x", abi.MaxTopicBytes+1))} {
		copy(mem[2000:], l)
		if r, _ := hostCall(ctx, mem, abi.ImportServeEvents, 2000, uint64(len(l))); r != abi.ErrInvalid {
			t.Errorf("serve_events of %s = %d", name, r)
		}
	}

	// Without a grant: denied, with the reason held.
	ex.ps = nil
	if r, _ := hostCall(ctx, mem, abi.ImportPubsubPublish, tp, tn, p, n); r != abi.ErrDenied || !strings.Contains(held(), "no pubsub") {
		t.Errorf("pubsub_publish without a grant = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportServeEvents, 1000, uint64(len(list))); r != abi.ErrDenied {
		t.Errorf("serve_events without a grant = %d", r)
	}
	ex.conn = &fakeConn{values: map[string]string{}, topics: map[string]bool{}}
	if r, _ := hostCall(ctx, mem, abi.ImportConnSubscribe, tp, tn); r != abi.ErrDenied {
		t.Errorf("conn_subscribe without a grant = %d", r)
	}

	// An exchange without the realtime calls (a middleware's link, say).
	ctx, mem, _ = realtimeCall(t, &checkingExchange{})
	if r, _ := hostCall(ctx, mem, abi.ImportConnSend, p, n, 0); r != abi.ErrState {
		t.Errorf("conn_send on a plain exchange = %d", r)
	}
	if r, _ := hostCall(ctx, mem, abi.ImportPubsubPublish, tp, tn, p, n); r != abi.ErrDenied {
		t.Errorf("pubsub_publish on a plain exchange = %d", r)
	}
}

// A pointer outside guest memory traps, in or out of an event.
func TestRealtimeHostFunctionsTrap(t *testing.T) {
	conn := &fakeConn{values: map[string]string{}, topics: map[string]bool{}}
	ctx, mem, _ := realtimeCall(t, &realtimeEx{conn: conn, ps: &fakePubsub{}})
	end := uint64(len(mem))
	for _, c := range []struct {
		fn   string
		args []uint64
	}{
		{abi.ImportConnSend, []uint64{end - 2, 4, 0}},
		{abi.ImportConnSet, []uint64{end, 1, 0, 1}},
		{abi.ImportConnSet, []uint64{0, 1, end - 1, 2}},
		{abi.ImportConnClose, []uint64{1000, end, 1}},
		{abi.ImportConnSubscribe, []uint64{end - 1, 2}},
		{abi.ImportConnUnsubscribe, []uint64{1<<32 - 1, 2}},
		{abi.ImportPubsubPublish, []uint64{0, 1, end, 1}},
		{abi.ImportPubsubSendTo, []uint64{end, 1, 0, 1}},
		{abi.ImportServeEvents, []uint64{end - 3, 8}},
	} {
		if _, trapped := hostCall(ctx, mem, c.fn, c.args...); trapped == nil {
			t.Errorf("%s%v did not trap", c.fn, c.args)
		}
	}
	if len(conn.sent)+len(conn.values)+len(conn.topics) != 0 || conn.closed != "" {
		t.Errorf("a trapped call reached the connection: %+v", conn)
	}
}

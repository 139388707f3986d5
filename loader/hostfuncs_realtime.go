package loader

import (
	"context"
	"unicode/utf8"

	"github.com/wasmhost/wasmhost/abi"
)

// The realtime host functions of ABI 1.4: a connection event's calls on
// its connection (conn_*), and the topics of the plugin's pubsub block
// (pubsub_*, serve_events). Pointers outside guest memory trap; sizes
// past the ABI's limits are answered with an errno before the host reads
// anything, so a guest learns of a message too large to publish and
// keeps its instance.

func init() {
	hostFunctions = append(hostFunctions,
		hostFunction{abi.ImportConnSend, connSend, []valueType{i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportConnSet, connSet, []valueType{i32, i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportConnClose, connClose, []valueType{i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportConnSubscribe, connSubscribe, []valueType{i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportConnUnsubscribe, connUnsubscribe, []valueType{i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportPubsubPublish, blocking(pubsubPublish), []valueType{i32, i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportPubsubSendTo, blocking(pubsubSendTo), []valueType{i32, i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportServeEvents, serveEvents, []valueType{i32, i32}, []valueType{i32}},
	)
}

// maxCloseReason is what fits a close frame's 125-byte payload after
// the code.
const maxCloseReason = 123

func realtimeOf(ctx context.Context) RealtimeExchange {
	r, _ := exchangeOf(ctx).(RealtimeExchange)
	return r
}

// eventConn is the connection of the calling event, or nil.
func eventConn(ctx context.Context) EventConn {
	if r := realtimeOf(ctx); r != nil {
		return r.Conn()
	}
	return nil
}

// errnoResult sets the result of a call that returned err: 0, the code
// the error names, or fallback with its message held for result_get.
func errnoResult(ctx context.Context, stack []uint64, err error, fallback int32) {
	if err == nil {
		setResult(stack, 0)
		return
	}
	if code, ok := errnoOf(err); ok {
		setResult(stack, code)
		return
	}
	if inst := instanceOf(ctx); inst != nil {
		inst.fail(stack, fallback, "%s", err)
		return
	}
	setResult(stack, fallback)
}

// topicArg reads a topic argument: ok false (ErrInvalid set) for an empty
// one or one past abi.MaxTopicBytes, which is not read.
func topicArg(mem guestMemory, fn string, stack []uint64, i int) (string, bool) {
	ptr, n := argU32(stack, i), argU32(stack, i+1)
	if n == 0 || n > abi.MaxTopicBytes {
		setResult(stack, abi.ErrInvalid)
		return "", false
	}
	return string(guestBytes(mem, fn, ptr, n)), true
}

func connSend(ctx context.Context, mem guestMemory, stack []uint64) {
	ptr, n, flags := argU32(stack, 0), argU32(stack, 1), argU32(stack, 2)
	if n > abi.MaxWriteBytes {
		setResult(stack, abi.ErrTooLarge)
		return
	}
	data := guestBytes(mem, abi.ImportConnSend, ptr, n)
	c := eventConn(ctx)
	if c == nil {
		setResult(stack, abi.ErrState)
		return
	}
	binary := flags&abi.ConnBinary != 0
	if flags&^abi.ConnBinary != 0 || !binary && !utf8.Valid(data) {
		setResult(stack, abi.ErrInvalid)
		return
	}
	// The connection keeps the data queued after the call returns; the
	// slice aliases guest memory.
	errnoResult(ctx, stack, c.Send(append([]byte(nil), data...), binary), abi.ErrClosed)
}

func connSet(ctx context.Context, mem guestMemory, stack []uint64) {
	kn, vn := argU32(stack, 1), argU32(stack, 3)
	if uint64(kn)+uint64(vn) > abi.MaxConnValueBytes {
		setResult(stack, abi.ErrTooLarge)
		return
	}
	key := guestBytes(mem, abi.ImportConnSet, argU32(stack, 0), kn)
	val := guestBytes(mem, abi.ImportConnSet, argU32(stack, 2), vn)
	c := eventConn(ctx)
	if c == nil {
		setResult(stack, abi.ErrState)
		return
	}
	if len(key) == 0 {
		setResult(stack, abi.ErrInvalid)
		return
	}
	errnoResult(ctx, stack, c.Set(string(key), string(val)), abi.ErrTooLarge)
}

func connClose(ctx context.Context, mem guestMemory, stack []uint64) {
	code, n := argI32(stack, 0), argU32(stack, 2)
	if n > maxCloseReason {
		setResult(stack, abi.ErrInvalid)
		return
	}
	reason := guestBytes(mem, abi.ImportConnClose, argU32(stack, 1), n)
	c := eventConn(ctx)
	if c == nil {
		setResult(stack, abi.ErrState)
		return
	}
	if code != 1000 && (code < 3000 || code > 4999) || !utf8.Valid(reason) {
		setResult(stack, abi.ErrInvalid)
		return
	}
	c.Close(int(code), string(reason))
	setResult(stack, 0)
}

func connSubscribe(ctx context.Context, mem guestMemory, stack []uint64) {
	connTopic(ctx, mem, stack, abi.ImportConnSubscribe, true)
}

func connUnsubscribe(ctx context.Context, mem guestMemory, stack []uint64) {
	connTopic(ctx, mem, stack, abi.ImportConnUnsubscribe, false)
}

func connTopic(ctx context.Context, mem guestMemory, stack []uint64, fn string, subscribe bool) {
	topic, ok := topicArg(mem, fn, stack, 0)
	c := eventConn(ctx)
	switch {
	case c == nil:
		setResult(stack, abi.ErrState)
		return
	case realtimeOf(ctx).Pubsub() == nil:
		setResult(stack, abi.ErrDenied)
		return
	case !ok:
		return // ErrInvalid is set
	}
	if !subscribe {
		c.Unsubscribe(topic)
		setResult(stack, 0)
		return
	}
	errnoResult(ctx, stack, c.Subscribe(topic), abi.ErrInvalid)
}

// pubsubCall reads the (name, data) arguments of pubsub_publish and
// pubsub_send_to and finds the plugin's pubsub; ok is false when the
// result is already set.
func pubsubCall(ctx context.Context, mem guestMemory, stack []uint64, fn string) (ps Pubsub, name string, data []byte, ok bool) {
	name, nameOK := topicArg(mem, fn, stack, 0)
	dn := argU32(stack, 3)
	if dn > abi.MaxPublishBytes {
		setResult(stack, abi.ErrTooLarge)
		return nil, "", nil, false
	}
	data = guestBytes(mem, fn, argU32(stack, 2), dn)
	r := realtimeOf(ctx)
	if r == nil || r.Pubsub() == nil {
		if inst := instanceOf(ctx); inst != nil {
			inst.fail(stack, abi.ErrDenied, "plugin %q is granted no pubsub block", inst.plugin.Name)
		} else {
			setResult(stack, abi.ErrDenied)
		}
		return nil, "", nil, false
	}
	if !nameOK {
		return nil, "", nil, false
	}
	// The hub keeps the data (queued for subscribers, in its history).
	return r.Pubsub(), name, append([]byte(nil), data...), true
}

func pubsubPublish(ctx context.Context, mem guestMemory, stack []uint64) {
	ps, topic, data, ok := pubsubCall(ctx, mem, stack, abi.ImportPubsubPublish)
	if !ok {
		return
	}
	errnoResult(ctx, stack, ps.Publish(ctx, topic, data), abi.ErrService)
}

func pubsubSendTo(ctx context.Context, mem guestMemory, stack []uint64) {
	ps, id, data, ok := pubsubCall(ctx, mem, stack, abi.ImportPubsubSendTo)
	if !ok {
		return
	}
	errnoResult(ctx, stack, ps.SendTo(ctx, id, data), abi.ErrService)
}

func serveEvents(ctx context.Context, mem guestMemory, stack []uint64) {
	ptr, n := argU32(stack, 0), argU32(stack, 1)
	const maxList = abi.MaxServeTopics * (4 + abi.MaxTopicBytes)
	if n > maxList {
		setResult(stack, abi.ErrInvalid)
		return
	}
	list := guestBytes(mem, abi.ImportServeEvents, ptr, n)
	r := realtimeOf(ctx)
	if r == nil || r.Pubsub() == nil {
		setResult(stack, abi.ErrDenied)
		return
	}
	if r.Conn() != nil {
		setResult(stack, abi.ErrState)
		return
	}
	var topics []string
	for len(list) > 0 {
		t, rest, ok := abi.NextString(list)
		if !ok || len(t) == 0 || len(t) > abi.MaxTopicBytes || len(topics) == abi.MaxServeTopics {
			setResult(stack, abi.ErrInvalid)
			return
		}
		topics = append(topics, string(t))
		list = rest
	}
	if len(topics) == 0 {
		setResult(stack, abi.ErrInvalid)
		return
	}
	setResult(stack, r.ServeEvents(topics))
}

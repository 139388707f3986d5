//go:build wasip1

// Command rtraw speaks the realtime calls of ABI 1.4 without the SDK, for
// the host's tests. HTTP: /events streams topic "room" (serve_events),
// /publish?MSG publishes MSG to "room", /conn answers what conn_send
// returns outside an event. Events: open subscribes to "room", keeps the
// query in value "q" and sends "hello ID WORKER" (?refuse: answers 401 "no",
// refusing the upgrade); a message "loop" loops, "oob" passes a pointer
// outside memory, "get" sends "q=" and the value, "pub X" publishes X,
// "to ID X" sends X to connection ID and answers "send_to" and the
// result, "close" closes with 4000 "bye", "start" sends start_response's result,
// anything else comes back as "echo[VERSION]:" and the message.
package main

import (
	"strconv"
	"unsafe"
)

var version = "one"

//go:wasmimport wasmhost environ_get
func environGet(buf unsafe.Pointer, n int32) int32

//go:wasmimport wasmhost body_read
func bodyRead(buf unsafe.Pointer, n int32) int32

//go:wasmimport wasmhost start_response
func startResponse(status int32, headers unsafe.Pointer, n int32) int32

//go:wasmimport wasmhost body_write
func bodyWrite(buf unsafe.Pointer, n int32) int32

//go:wasmimport wasmhost conn_send
func connSend(buf unsafe.Pointer, n, flags int32) int32

// connSendRaw is conn_send with the pointer as a number, to pass one
// outside memory.
//
//go:wasmimport wasmhost conn_send
func connSendRaw(buf, n, flags int32) int32

//go:wasmimport wasmhost conn_set
func connSet(k unsafe.Pointer, kn int32, v unsafe.Pointer, vn int32) int32

//go:wasmimport wasmhost conn_close
func connClose(code int32, reason unsafe.Pointer, n int32) int32

//go:wasmimport wasmhost conn_subscribe
func connSubscribe(t unsafe.Pointer, n int32) int32

//go:wasmimport wasmhost pubsub_publish
func pubsubPublish(t unsafe.Pointer, tn int32, d unsafe.Pointer, dn int32) int32

//go:wasmimport wasmhost pubsub_send_to
func pubsubSendTo(id unsafe.Pointer, idn int32, d unsafe.Pointer, dn int32) int32

//go:wasmimport wasmhost serve_events
func serveEvents(t unsafe.Pointer, n int32) int32

//go:wasmexport wasmhost_abi_version
func abiVersion() int32 { return 1<<16 | 4 }

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func send(s string) int32 { b := []byte(s); return connSend(ptr(b), int32(len(b)), 0) }

func publish(topic, data string) int32 {
	t, d := []byte(topic), []byte(data)
	return pubsubPublish(ptr(t), int32(len(t)), ptr(d), int32(len(d)))
}

func respond(status int32, body string) int32 {
	h := pair(nil, "Content-Type", "text/plain")
	startResponse(status, ptr(h), int32(len(h)))
	b := []byte(body)
	bodyWrite(ptr(b), int32(len(b)))
	return 0
}

//go:wasmexport wasmhost_handle
func handle(environSize, flags int32) int32 {
	buf := make([]byte, environSize)
	environGet(ptr(buf), environSize)
	env := pairs(buf)
	if flags&2 == 0 {
		return serveHTTP(env)
	}
	switch env["wasmhost.event"] {
	case "open":
		return open(env)
	case "message":
		return message(env)
	}
	return 0
}

func serveHTTP(env map[string]string) int32 {
	switch env["PATH_INFO"] {
	case "/events":
		l := str(nil, "room")
		if rc := serveEvents(ptr(l), int32(len(l))); rc != 0 {
			return respond(500, "serve_events "+strconv.Itoa(int(rc)))
		}
		return 0
	case "/publish":
		return respond(200, "published "+strconv.Itoa(int(publish("room", env["QUERY_STRING"]))))
	case "/conn":
		return respond(200, "conn_send "+strconv.Itoa(int(send("x"))))
	}
	return respond(200, "http "+version)
}

func open(env map[string]string) int32 {
	q := env["QUERY_STRING"]
	if q == "refuse" {
		return respond(401, "no")
	}
	k, v := []byte("q"), []byte(q)
	connSet(ptr(k), 1, ptr(v), int32(len(v)))
	room := []byte("room")
	connSubscribe(ptr(room), 4)
	send("hello " + env["wasmhost.conn_id"] + " " + env["wasmhost.worker_id"])
	return 0
}

// msgBuf holds one message: events of an instance run one at a time.
var msgBuf = make([]byte, 1<<20+16)

func message(env map[string]string) int32 {
	b := msgBuf
	n := 0
	for {
		r := bodyRead(ptr(b[n:]), int32(len(b)-n))
		if r <= 0 {
			break
		}
		n += int(r)
	}
	msg := string(b[:n])
	switch {
	case msg == "loop":
		for {
		}
	case msg == "oob":
		connSendRaw(1<<31-8, 16, 0)
	case msg == "get":
		send("q=" + env["wasmhost.conn.q"])
	case len(msg) > 4 && msg[:4] == "pub ":
		publish("room", msg[4:])
	case len(msg) > 3 && msg[:3] == "to ":
		id, data, _ := cut(msg[3:], ' ')
		i, d := []byte(id), []byte(data)
		send("send_to " + strconv.Itoa(int(pubsubSendTo(ptr(i), int32(len(i)), ptr(d), int32(len(d))))))
	case msg == "close":
		r := []byte("bye")
		connClose(4000, ptr(r), 3)
	case msg == "start":
		send("start_response " + strconv.Itoa(int(startResponse(200, nil, 0))))
	default:
		send("echo[" + version + "]:" + msg)
	}
	return 0
}

func cut(s string, sep byte) (before, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func pair(b []byte, k, v string) []byte { return str(str(b, k), v) }

func str(b []byte, s string) []byte {
	n := len(s)
	b = append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	return append(b, s...)
}

func pairs(b []byte) map[string]string {
	m := map[string]string{}
	for len(b) >= 8 {
		kn := int(b[0]) | int(b[1])<<8 | int(b[2])<<16 | int(b[3])<<24
		k := string(b[4 : 4+kn])
		b = b[4+kn:]
		vn := int(b[0]) | int(b[1])<<8 | int(b[2])<<16 | int(b[3])<<24
		m[k] = string(b[4 : 4+vn])
		b = b[4+vn:]
	}
	return m
}

func main() {}

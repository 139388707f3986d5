//go:build wasip1

package sdk

import (
	"net/http"
	"unsafe"

	"github.com/wasmhost/wasmhost/abi"
)

//go:wasmimport wasmhost conn_send
func hostConnSend(buf unsafe.Pointer, n, flags int32) int32

//go:wasmimport wasmhost conn_set
func hostConnSet(key unsafe.Pointer, keyLen int32, val unsafe.Pointer, valLen int32) int32

//go:wasmimport wasmhost conn_close
func hostConnClose(code int32, reason unsafe.Pointer, reasonLen int32) int32

//go:wasmimport wasmhost conn_subscribe
func hostConnSubscribe(topic unsafe.Pointer, n int32) int32

//go:wasmimport wasmhost conn_unsubscribe
func hostConnUnsubscribe(topic unsafe.Pointer, n int32) int32

//go:wasmimport wasmhost pubsub_publish
func hostPubsubPublish(topic unsafe.Pointer, topicLen int32, data unsafe.Pointer, dataLen int32) int32

//go:wasmimport wasmhost pubsub_send_to
func hostPubsubSendTo(id unsafe.Pointer, idLen int32, data unsafe.Pointer, dataLen int32) int32

//go:wasmimport wasmhost serve_events
func hostServeEvents(topics unsafe.Pointer, n int32) int32

// eventConn is what an event's Conn calls.
var eventConn connOps = hostConn{}

// hostConn is the connection of the event being served: the host's calls
// take no connection argument.
type hostConn struct{}

func rtError(rc int32) error {
	if rc >= 0 {
		return nil
	}
	return serviceError(rc)
}

func (hostConn) send(data []byte, binary bool) error {
	var flags int32
	if binary {
		flags = abi.ConnBinary
	}
	return rtError(hostConnSend(ptr(data), int32(len(data)), flags))
}

func (hostConn) set(key, value string) error {
	return rtError(hostConnSet(strPtr(key), int32(len(key)), strPtr(value), int32(len(value))))
}

func (hostConn) close(code int, reason string) error {
	return rtError(hostConnClose(int32(code), strPtr(reason), int32(len(reason))))
}

func (hostConn) subscribe(topic string) error {
	return rtError(hostConnSubscribe(strPtr(topic), int32(len(topic))))
}

func (hostConn) unsubscribe(topic string) error {
	return rtError(hostConnUnsubscribe(strPtr(topic), int32(len(topic))))
}

func publish(topic string, data []byte) error {
	return rtError(hostPubsubPublish(strPtr(topic), int32(len(topic)), ptr(data), int32(len(data))))
}

func sendTo(id string, data []byte) error {
	return rtError(hostPubsubSendTo(strPtr(id), int32(len(id)), ptr(data), int32(len(data))))
}

func serveEvents(w http.ResponseWriter, _ *http.Request, topics []string) error {
	rw := hostWriter(w)
	if rw == nil {
		return errNotHostWriter
	}
	if rw.wroteHeader || len(rw.out) > 0 || rw.err != nil {
		return errWritten
	}
	var list []byte
	for _, t := range topics {
		list = abi.AppendString(list, t)
	}
	if err := rtError(hostServeEvents(ptr(list), int32(len(list)))); err != nil {
		return err
	}
	rw.handOver()
	return nil
}

//go:build wasip1

// Command abicall lets a host-side fuzz test call any wasmhost host
// function with raw arguments: the export abicall(fn, a, ..., h) calls host
// function number fn, its index in abi.Imports, with as many of a..h as it
// takes. Argument i is the host function's parameter i, so the test knows
// which arguments are pointers from the ABI alone; kv_increment's i64 delta
// is d (low half) and h (high half), h being free since kv_increment takes
// five parameters. It is also a normal plugin (answers "ok"), so the loader
// accepts it.
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

//go:wasmimport wasmhost environ_get
func environGet(a, b int32) int32

//go:wasmimport wasmhost body_read
func bodyRead(a, b int32) int32

//go:wasmimport wasmhost start_response
func startResponse(a, b, c int32) int32

//go:wasmimport wasmhost body_write
func bodyWrite(a, b int32) int32

//go:wasmimport wasmhost body_flush
func bodyFlush() int32

//go:wasmimport wasmhost log
func logMsg(a, b, c int32)

//go:wasmimport wasmhost static_url
func staticURL(a, b, c, d int32) int32

//go:wasmimport wasmhost result_get
func resultGet(a, b int32) int32

//go:wasmimport wasmhost kv_open
func kvOpen(a, b int32) int32

//go:wasmimport wasmhost kv_get
func kvGet(a, b, c, d, e int32) int32

//go:wasmimport wasmhost kv_set
func kvSet(a, b, c, d, e int32) int32

//go:wasmimport wasmhost kv_delete
func kvDelete(a, b, c int32) int32

//go:wasmimport wasmhost kv_exists
func kvExists(a, b, c int32) int32

//go:wasmimport wasmhost kv_keys
func kvKeys(a, b, c, d, e int32) int32

//go:wasmimport wasmhost kv_increment
func kvIncrement(a, b, c int32, delta int64, e int32) int32

//go:wasmimport wasmhost kv_cas
func kvCAS(a, b, c, d, e, f, g, h int32) int32

//go:wasmimport wasmhost http_request
func httpRequest(a, b, c int32) int32

//go:wasmimport wasmhost http_body_write
func httpBodyWrite(a, b, c int32) int32

//go:wasmimport wasmhost http_body_close
func httpBodyClose(a int32) int32

//go:wasmimport wasmhost http_response
func httpResponse(a, b, c int32) int32

//go:wasmimport wasmhost http_body_read
func httpBodyRead(a, b, c int32) int32

//go:wasmimport wasmhost http_close
func httpClose(a int32) int32

//go:wasmimport wasmhost next_start
func nextStart(a, b, c int32) int32

//go:wasmimport wasmhost next_wait
func nextWait(a int32) int32

//go:wasmimport wasmhost next_read
func nextRead(a, b int32) int32

//go:wasmimport wasmhost next_body
func nextBody(a, b int32) int32

//go:wasmimport wasmhost cookie_sign
func cookieSign(a, b, c, d, e, f int32) int32

//go:wasmimport wasmhost cookie_verify
func cookieVerify(a, b, c, d, e, f int32) int32

//go:wasmimport wasmhost xsrf_token
func xsrfToken(a, b int32) int32

//go:wasmimport wasmhost kv_get_many
func kvGetMany(a, b, c, d, e int32) int32

//go:wasmimport wasmhost conn_send
func connSend(a, b, c int32) int32

//go:wasmimport wasmhost conn_set
func connSet(a, b, c, d int32) int32

//go:wasmimport wasmhost conn_close
func connClose(a, b, c int32) int32

//go:wasmimport wasmhost conn_subscribe
func connSubscribe(a, b int32) int32

//go:wasmimport wasmhost conn_unsubscribe
func connUnsubscribe(a, b int32) int32

//go:wasmimport wasmhost pubsub_publish
func pubsubPublish(a, b, c, d int32) int32

//go:wasmimport wasmhost pubsub_send_to
func pubsubSendTo(a, b, c, d int32) int32

//go:wasmimport wasmhost serve_events
func serveEvents(a, b int32) int32

//go:wasmexport abicall
func abicall(fn, a, b, c, d, e, f, g, h int32) int32 {
	switch fn {
	case 0:
		return environGet(a, b)
	case 1:
		return bodyRead(a, b)
	case 2:
		return startResponse(a, b, c)
	case 3:
		return bodyWrite(a, b)
	case 4:
		return bodyFlush()
	case 5:
		logMsg(a, b, c)
		return 0
	case 6:
		return staticURL(a, b, c, d)
	case 7:
		return resultGet(a, b)
	case 8:
		return kvOpen(a, b)
	case 9:
		return kvGet(a, b, c, d, e)
	case 10:
		return kvSet(a, b, c, d, e)
	case 11:
		return kvDelete(a, b, c)
	case 12:
		return kvExists(a, b, c)
	case 13:
		return kvKeys(a, b, c, d, e)
	case 14:
		return kvIncrement(a, b, c, int64(h)<<32|int64(uint32(d)), e)
	case 15:
		return kvCAS(a, b, c, d, e, f, g, h)
	case 16:
		return httpRequest(a, b, c)
	case 17:
		return httpBodyWrite(a, b, c)
	case 18:
		return httpBodyClose(a)
	case 19:
		return httpResponse(a, b, c)
	case 20:
		return httpBodyRead(a, b, c)
	case 21:
		return httpClose(a)
	case 22:
		return nextStart(a, b, c)
	case 23:
		return nextWait(a)
	case 24:
		return nextRead(a, b)
	case 25:
		return nextBody(a, b)
	case 26:
		return cookieSign(a, b, c, d, e, f)
	case 27:
		return cookieVerify(a, b, c, d, e, f)
	case 28:
		return xsrfToken(a, b)
	case 29:
		return kvGetMany(a, b, c, d, e)
	case 30:
		return connSend(a, b, c)
	case 31:
		return connSet(a, b, c, d)
	case 32:
		return connClose(a, b, c)
	case 33:
		return connSubscribe(a, b)
	case 34:
		return connUnsubscribe(a, b)
	case 35:
		return pubsubPublish(a, b, c, d)
	case 36:
		return pubsubSendTo(a, b, c, d)
	case 37:
		return serveEvents(a, b)
	}
	return -100
}

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	}))
}

func main() {}

package gateway

import (
	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/loader"
)

// guestLogCapture bounds the guest output kept per request for error pages.
const guestLogCapture = 16 << 10

// LogGuest writes one record of a guest's log (the loader has parsed it:
// a structured record keeps its level and fields, a line of output is a
// message) to log, and appends its message to capture, within
// guestLogCapture, for the error page under serve_traceback. It returns
// the capture.
func LogGuest(log hclog.Logger, requestID string, rec loader.Record, capture []byte) []byte {
	log.Log(rec.Level, rec.Message, append(rec.Fields, "request_id", requestID)...)
	msg := rec.Message
	if room := guestLogCapture - len(capture); room > 0 {
		if len(msg) >= room {
			msg = msg[:room-1]
		}
		capture = append(append(capture, msg...), '\n')
	}
	return capture
}

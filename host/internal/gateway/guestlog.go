package gateway

import (
	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/loader"
)

// guestLogCapture bounds the guest output kept per request for error pages.
const guestLogCapture = 16 << 10

// LogGuest writes one record of a guest's log (a structured record with
// its level and fields, or a line of its output) to log, and appends its
// text to capture, within guestLogCapture, for the error page under
// serve_traceback. It returns the capture.
func LogGuest(log hclog.Logger, requestID string, level int32, msg, capture []byte) []byte {
	lvl, text, fields := loader.GuestRecord(level, msg)
	log.Log(lvl, text, append(fields, "request_id", requestID)...)
	if level&abi.LogStructured != 0 {
		msg = []byte(text)
	}
	if room := guestLogCapture - len(capture); room > 0 {
		if len(msg) >= room {
			msg = msg[:room-1]
		}
		capture = append(append(capture, msg...), '\n')
	}
	return capture
}

// Command stream sends a response in flushed pieces, to show streaming:
// GET /stream?n=5&delay=50 writes "chunk 1" to "chunk 5", one line every
// 50 ms, each sent to the client as soon as it is written.
package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/wasmhost/wasmhost/sdk"
)

const (
	defaultN     = 5
	maxN         = 1000
	defaultDelay = 50 * time.Millisecond
	maxDelayMS   = 10000
)

func init() {
	sdk.Handle(http.HandlerFunc(stream))
}

func stream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, ok := intParam(q.Get("n"), defaultN, 0, maxN)
	if !ok {
		http.Error(w, "n must be an integer from 0 to "+strconv.Itoa(maxN), http.StatusBadRequest)
		return
	}
	ms, ok := intParam(q.Get("delay"), int(defaultDelay/time.Millisecond), 0, maxDelayMS)
	if !ok {
		http.Error(w, "delay must be a number of milliseconds from 0 to "+strconv.Itoa(maxDelayMS), http.StatusBadRequest)
		return
	}
	delay := time.Duration(ms) * time.Millisecond

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// w.(http.Flusher) rather than http.NewResponseController, which TinyGo
	// 0.34's net/http lacks; a client that has gone shows in the next Write.
	flusher, _ := w.(http.Flusher)
	line := make([]byte, 0, 32)
	for i := 1; i <= n; i++ {
		if i > 1 {
			time.Sleep(delay)
		}
		line = append(line[:0], "chunk "...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return // the client has gone: stop working for nobody
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// intParam parses an optional query parameter in [lo, hi].
func intParam(s string, def, lo, hi int) (int, bool) {
	if s == "" {
		return def, true
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, false
	}
	return v, true
}

func main() {}

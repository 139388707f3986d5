// Command version answers "version V worker N": the version it was built
// with (-ldflags "-X main.version=...") and the worker serving it, in three
// flushed chunks, so a test can tell which build and which worker served a
// request, and that no response mixes two builds.
// ?ms=N sleeps N milliseconds between the first chunk and the rest;
// ?panic=1 panics before responding.
package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/wasmhost/wasmhost/sdk"
)

var version = "dev"

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("panic") != "" {
			panic("deliberate panic in version " + version)
		}
		line := []byte("version " + version + " worker " + sdk.Environ(r)["wasmhost.worker_id"] + "\n")
		w.Write(line)
		w.(http.Flusher).Flush()
		if ms, _ := strconv.Atoi(r.URL.Query().Get("ms")); ms > 0 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		w.Write(line)
		w.(http.Flusher).Flush()
		w.Write(line)
	}))
}

func main() {}

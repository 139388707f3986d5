// Command slow sleeps before answering, to test pools, waits and timeouts.
package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Write([]byte("slept " + strconv.Itoa(ms) + "\n"))
	}))
}

func main() {}

// Command initsleep sleeps in its package initializer for the duration in
// its INIT_SLEEP environment variable (e.g. "20s"), before it can serve: a
// plugin whose init outlives the host's init deadline.
package main

import (
	"net/http"
	"os"
	"time"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	if d, err := time.ParseDuration(os.Getenv("INIT_SLEEP")); err == nil {
		time.Sleep(d)
	}
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("awake\n"))
	}))
}

func main() {}

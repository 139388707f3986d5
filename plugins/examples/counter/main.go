// Command counter counts each visitor's requests in a key-value store: a
// session cookie names the visitor, and sdk.KV.Increment counts, atomically
// across instances, worker processes and, with a redis store, every host of
// a fleet behind a load balancer.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"

	"github.com/wasmhost/wasmhost/sdk"
)

// version is set at build time (-ldflags "-X main.version=2") to tell two
// builds apart in a rolling swap.
var version = "1"

func init() {
	sdk.Handle(http.HandlerFunc(count))
}

func count(w http.ResponseWriter, r *http.Request) {
	store, err := sdk.OpenKV("sessions")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	id := ""
	if c, err := r.Cookie("session"); err == nil && len(c.Value) == 32 {
		id = c.Value
	} else {
		var b [16]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
		http.SetCookie(w, &http.Cookie{Name: "session", Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	n, err := store.Increment("visits:"+id, 1)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("X-Version", version)
	// SERVED_BY comes from the plugin's env in site.hcl: which host answered.
	w.Header().Set("X-Served-By", os.Getenv("SERVED_BY"))
	fmt.Fprintf(w, "visits %d\n", n)
}

func main() {}

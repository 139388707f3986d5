// Command gonemw is a middleware whose client goes away, for the host's
// disconnect tests. Loaded under several names (its NAME env entry), it
// calls next and, with ?id=, records in the folder granted as /rec, in
// the file "<id>.<NAME>", what it saw once next returned:
// "next=returned done=<r.Context().Done() closed?> err=<r.Context().Err()>
// write=<its own write's error is ErrClientGone?>", and "defer=ran" from
// its defer. A panic out of next (the SDK's abort) records nothing but
// "defer=ran".
package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	name := os.Getenv("NAME")
	sdk.HandleMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.URL.Query().Get("id")
			var note string
			if id != "" {
				defer func() { record(id+"."+name, note+" defer=ran\n") }()
			}
			w.Header().Set("X-Gonemw-"+name, "yes")
			next.ServeHTTP(w, r)
			done := false
			select {
			case <-r.Context().Done():
				done = true
			default:
			}
			_, err := w.Write([]byte("a trailer from " + name + "\n"))
			note = fmt.Sprintf("next=returned done=%v err=%v write=%v", done, r.Context().Err(), errors.Is(err, sdk.ErrClientGone))
		})
	})
}

func record(id, text string) {
	f, err := os.OpenFile("/rec/"+id, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gonemw: cannot record:", err)
		return
	}
	f.WriteString(text)
	f.Close()
}

func main() {}

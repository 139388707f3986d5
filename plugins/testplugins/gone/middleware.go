package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

// middleware is what gone is when loaded with a NAME env entry (under
// several names, one per link): it calls next and, with ?id=, records in
// /rec/<id>.<NAME> what it saw once next returned: "next=returned
// done=<r.Context().Done() closed?> err=<r.Context().Err()>
// write=<its own write's error is ErrClientGone?>", and "defer=ran" from
// its defer. A panic out of next (the SDK's abort) records nothing but
// "defer=ran".
func middleware(name string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.URL.Query().Get("id")
			var note string
			if id != "" {
				defer func() { record(id+"."+name, note+" defer=ran\n") }()
			}
			w.Header().Set("X-Gone-"+name, "yes")
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
	}
}

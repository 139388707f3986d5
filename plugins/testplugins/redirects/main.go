// Command redirects answers with the Locations handlers make, for the
// host's tests of a mounted plugin's redirects: an http.ServeMux with the
// subtree "/dir/" (so "/dir" redirects to "/dir/"), "/go?to=X" redirecting
// to X with http.Redirect, and "/created" answering 201 with Location
// "/notes/42". "/prefix" echoes the X-Forwarded-Prefix header it got.
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("/dir/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("in dir\n")) })
	mux.HandleFunc("/go", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/created", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/notes/42")
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("/prefix", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("prefix=" + r.Header.Get("X-Forwarded-Prefix") + "\n"))
	})
	sdk.Handle(mux)
}

func main() {}

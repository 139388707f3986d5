// Command plugin is the compute benchmark's guest: GET /sha?n=N runs N
// SHA-256 rounds over 4 KiB; GET /md renders a ~300 KB markdown document
// with goldmark and answers the HTML's length.
package main

import (
	"net/http"
	"strconv"

	"github.com/wasmhost/wasmhost/bench/compute/work"
	"github.com/wasmhost/wasmhost/sdk"
)

var doc = work.Document(300 << 10)

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sha":
			n, err := strconv.Atoi(r.URL.Query().Get("n"))
			if err != nil || n < 1 {
				n = 2000
			}
			w.Write([]byte(work.SHA256(n) + "\n"))
		case "/md":
			html, err := work.Markdown(doc)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Write([]byte(strconv.Itoa(len(html)) + "\n"))
		default:
			http.NotFound(w, r)
		}
	}))
}

func main() {}

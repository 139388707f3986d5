// Command status answers ?code=N (default 200) with a text body naming the
// code, and counts nothing itself: the host's counters say whether it ran.
// ?kb=N answers N KiB of HTML instead; ?type=T and ?encoding=E set the
// Content-Type and Content-Encoding; a 206 gets a Content-Range.
package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil || code < 200 || code > 599 {
			code = 200
		}
		q := r.URL.Query()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if t := q.Get("type"); t != "" {
			w.Header().Set("Content-Type", t)
		}
		if e := q.Get("encoding"); e != "" {
			w.Header().Set("Content-Encoding", e)
		}
		if code == http.StatusPartialContent {
			w.Header().Set("Content-Range", "bytes 0-99/1000")
		}
		if kb, _ := strconv.Atoi(q.Get("kb")); kb > 0 && kb <= 10<<10 {
			if q.Get("type") == "" {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
			}
			w.WriteHeader(code)
			io.WriteString(w, "<!doctype html><html><body>\n")
			for i, n := 0, 0; n < kb<<10; i++ {
				m, _ := fmt.Fprintf(w, "<p>line %08d of a long page, compressible text.</p>\n", i)
				n += m
			}
			return
		}
		w.WriteHeader(code)
		io.WriteString(w, "app text for "+strconv.Itoa(code)+"; authorization="+r.Header.Get("Authorization")+"; user="+r.Header.Get("X-User")+"\n")
	}))
}

func main() {}

// Command fsread probes the capabilities a guest has: ?path=P reads a
// file, ?write=P writes one (mode 0644), ?stat=P answers the file's
// permission bits in octal, ?env=1 lists the guest's environment
// variables. It answers 200 with what it got, or 403 with the error.
package main

import (
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("env") != "":
			w.Write([]byte(strings.Join(os.Environ(), "\n") + "\n"))
		case q.Get("stat") != "":
			st, err := os.Stat(q.Get("stat"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
			w.Write([]byte(strconv.FormatUint(uint64(st.Mode().Perm()), 8) + "\n"))
		case q.Get("write") != "":
			if err := os.WriteFile(q.Get("write"), []byte("written by a guest\n"), 0o644); err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
			w.Write([]byte("wrote\n"))
		default:
			b, err := os.ReadFile(q.Get("path"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
			w.Write(b)
		}
	}))
}

func main() {}

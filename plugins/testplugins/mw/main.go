// Command mw is a pass-through middleware for the host's chain tests. It
// is loaded under several plugin names (its NAME env entry tells which):
//
//   - every response gets "X-Mw-<NAME>: <NAME>/<variant>" (variant is set
//     at build time with -ldflags "-X main.variant=...", for swap tests);
//   - the downstream request gets "X-Via: <NAME>" added;
//   - ?panic=<NAME> panics in this middleware before calling next;
//   - ?upper=<NAME> replaces the request body by an upper-casing reader;
//   - ?answer=<NAME> answers 200 "answered by <NAME>" without calling next;
//   - ?env=<NAME> answers with this link's wasmhost.plugin, SCRIPT_NAME
//     and PATH_INFO, without calling next;
//   - ?path=<NAME> rewrites the path to /rewritten for the downstream;
//   - ?grow=<NAME> gives the downstream an endless body of "x".
package main

import (
	"io"
	"net/http"
	"os"

	"github.com/wasmhost/wasmhost/sdk"
)

var variant = "base"

func init() {
	name := os.Getenv("NAME")
	sdk.HandleMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			w.Header().Set("X-Mw-"+name, name+"/"+variant)
			if q.Get("panic") == name {
				panic("mw " + name + " panics on purpose")
			}
			if q.Get("answer") == name {
				io.WriteString(w, "answered by "+name+"\n")
				return
			}
			if q.Get("env") == name {
				env := sdk.Environ(r)
				io.WriteString(w, "plugin="+env["wasmhost.plugin"]+" script="+env["SCRIPT_NAME"]+" path="+env["PATH_INFO"]+"\n")
				return
			}
			if q.Get("path") == name {
				r.URL.Path = "/rewritten"
			}
			r.Header.Add("X-Via", name)
			if q.Get("grow") == name {
				r.Body = io.NopCloser(endless{})
				r.ContentLength = -1
			}
			if q.Get("upper") == name {
				r.Body = upper{r.Body}
				r.ContentLength = -1
			}
			next.ServeHTTP(w, r)
		})
	})
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

type upper struct{ io.ReadCloser }

func (u upper) Read(p []byte) (int, error) {
	n, err := u.ReadCloser.Read(p)
	for i := 0; i < n; i++ {
		if 'a' <= p[i] && p[i] <= 'z' {
			p[i] -= 'a' - 'A'
		}
	}
	return n, err
}

func main() {}

// Command environ is the classic gateway demo: it lists the request's
// environ, one "KEY: value" line per key, sorted.
package main

import (
	"net/http"
	"sort"
	"strings"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(serveEnviron))
}

func serveEnviron(w http.ResponseWriter, r *http.Request) {
	env := sdk.Environ(r)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(env[k])
		b.WriteByte('\n')
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(b.String()))
}

func main() {}

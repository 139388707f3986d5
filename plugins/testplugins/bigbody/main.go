// Command bigbody writes ?mb=N megabytes (default 4096): a response far
// larger than any buffer, which must stream and stop when the client goes.
package main

import (
	"net/http"
	"strconv"

	"github.com/wasmhost/wasmhost/sdk"
)

var chunk = make([]byte, 64<<10)

func init() {
	for i := range chunk {
		chunk[i] = 'x'
	}
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mb, err := strconv.Atoi(r.URL.Query().Get("mb"))
		if err != nil {
			mb = 4096
		}
		for i := 0; i < mb*16; i++ {
			if _, err := w.Write(chunk); err != nil {
				return // the client went away
			}
		}
	}))
}

func main() {}

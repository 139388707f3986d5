// Command logs logs in every way a plugin can: sdk.Logger() with
// attributes, Go's default slog logger (text on stderr), plain stderr lines
// naming a level, and, with ?panic=1, a panic.
package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sdk.Logger().Warn("structured", "user", "bob", "n", 3, slog.Group("req", "path", r.URL.Path))
		slog.Info("from slog's default logger", "k", "v")
		fmt.Fprintln(os.Stderr, "ERROR: plain stderr line")
		fmt.Fprintln(os.Stderr, "no level here")
		if r.URL.Query().Get("panic") != "" {
			panic("deliberate panic")
		}
		w.Write([]byte("logged\n"))
	}))
}

func main() {}

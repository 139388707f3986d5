package front

import (
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/gateway"
)

// A plugin whose source does not compile (debug, plugin source) keeps its
// route, and its requests get a 500 page with the compiler's messages
// rather than the last version that built: what the author sees in the
// browser is the state of the code in the editor.

// serveFailure writes the failure page: HTML for browsers, text otherwise.
func (f *Front) serveFailure(w http.ResponseWriter, r *http.Request, c *gateway.Client, start time.Time, name, msg string) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	title := "500 Internal Server Error: plugin " + name + " cannot serve"
	var page string
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		h.Set("Content-Type", "text/html; charset=utf-8")
		page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(title) +
			"</title></head>\n<body><h1>" + html.EscapeString(title) + "</h1>\n<pre>" + html.EscapeString(msg) +
			"</pre>\n<p>Fix the source: the plugin is rebuilt and served again without a restart.</p></body></html>\n"
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		page = title + "\n\n" + msg + "\n"
	}
	w.WriteHeader(http.StatusInternalServerError)
	n, _ := w.Write([]byte(page))
	f.logAccess(r, c, http.StatusInternalServerError, int64(n), start, name)
}

package front

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/gateway"
)

// tracebackPage is the error page under serve_traceback: the runtime's
// message (with the wasm stack trace for a trap) and what the guest wrote
// during the request (a Go panic's message and goroutine trace), as HTML
// for browsers and plain text for everything else.
func (f *Front) tracebackPage(w http.ResponseWriter, r *http.Request, c *gateway.Client, status int, err error, guestLog []byte, start time.Time, plugin string) {
	title := strconv.Itoa(status) + " " + http.StatusText(status)
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	var b strings.Builder
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		h.Set("Content-Type", "text/html; charset=utf-8")
		tracebackHTML.Execute(&b, map[string]any{
			"Title": title, "Plugin": plugin, "Error": err.Error(), "Output": string(guestLog),
		})
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		b.WriteString(title + "\n\nplugin " + plugin + ": " + err.Error() + "\n")
		if len(guestLog) > 0 {
			b.WriteString("\nguest output:\n")
			b.Write(guestLog)
		}
	}
	w.WriteHeader(status)
	n, _ := w.Write([]byte(b.String()))
	f.logAccess(r, c, status, int64(n), start, plugin)
}

var tracebackHTML = template.Must(template.New("traceback").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em;overflow:auto}
p.note{color:#666}</style></head>
<body><h1>{{.Title}}</h1>
<p>Plugin <b>{{.Plugin}}</b> failed.</p>
<pre>{{.Error}}</pre>
{{if .Output}}<h2>Guest output</h2><pre>{{.Output}}</pre>{{end}}
<p class="note">This page shows internals because serve_traceback (or debug) is on. Never in production.</p>
</body></html>
`))

// Package dashboard is the admin listener's GET /: one small HTML page,
// embedded in the binary with its script and style (no external assets,
// no framework), that polls the /status JSON and the /metrics text the
// admin listener already serves and shows them per plugin.
//
// The page works out rates and percentiles itself, from the difference
// between two polls and from the request-duration histogram's buckets, so
// the host keeps no state for it and a prefork master's merged documents
// serve it as well as a single process's. Everything is plain tables, so
// the page reads as text too (a text browser, or a DOM dump).
package dashboard

import (
	"embed"
	"net/http"
)

//go:embed assets
var assets embed.FS

// Register adds GET / and the page's assets (under /dashboard/) to an
// admin mux that serves /status and /metrics.
func Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		serve(w, "assets/index.html", "text/html; charset=utf-8")
	})
	mux.HandleFunc("GET /dashboard/dashboard.js", func(w http.ResponseWriter, r *http.Request) {
		serve(w, "assets/dashboard.js", "text/javascript; charset=utf-8")
	})
	mux.HandleFunc("GET /dashboard/dashboard.css", func(w http.ResponseWriter, r *http.Request) {
		serve(w, "assets/dashboard.css", "text/css; charset=utf-8")
	})
}

func serve(w http.ResponseWriter, name, ctype string) {
	b, err := assets.ReadFile(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	// Only this page's own files and the admin listener's documents.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}

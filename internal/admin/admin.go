// Package admin is the admin listener's HTTP server (admin.listen in
// site.hcl), the one a single process and a prefork master both run:
//
//	GET  /status               the status document, JSON
//	GET  /metrics              Prometheus text
//	POST /plugins/NAME/reload  reread a plugin's file and swap it in if it
//	                           changed (where the process serves plugins)
//
// What the documents say is the caller's: a single process reports itself
// (internal/status.Status), a master its workers (internal/status.Fleet),
// asking each of them over its control channel when a page is requested.
package admin

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Endpoints are what the admin listener serves.
type Endpoints struct {
	// Status is the /status document, encoded as indented JSON.
	Status func(ctx context.Context) any
	// Metrics writes the /metrics text.
	Metrics func(ctx context.Context, w io.Writer)
	// ReloadPlugin, if set, serves POST /plugins/{name}/reload: it returns
	// the result to encode and the HTTP status to answer with.
	ReloadPlugin func(name string) (result any, code int)
}

// Handler serves e.
func Handler(e Endpoints) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(e.Status(r.Context()))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		e.Metrics(r.Context(), w)
	})
	if e.ReloadPlugin != nil {
		mux.HandleFunc("POST /plugins/{name}/reload", func(w http.ResponseWriter, r *http.Request) {
			res, code := e.ReloadPlugin(r.PathValue("name"))
			w.Header().Set("Content-Type", "application/json")
			if code != http.StatusOK {
				w.WriteHeader(code)
			}
			json.NewEncoder(w).Encode(res)
		})
	}
	return mux
}

// Serve serves h on ln in the background and logs where. Close the
// returned server to stop it.
func Serve(ln net.Listener, h http.Handler, log hclog.Logger) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	addr := ln.Addr().String()
	log.Info("admin listening", "addr", addr, "status", "http://"+addr+"/status")
	return srv
}

package host

import (
	"context"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/wasmhost/wasmhost/internal/admin"
	"github.com/wasmhost/wasmhost/internal/status"
	"github.com/wasmhost/wasmhost/loader"
)

// pluginStatus is what /status and /metrics report of one plugin.
type pluginStatus struct {
	name, path, version string
	engine              string
	loadedAt            time.Time
	swaps, swapFailures uint64
	lastError           string
	instancesCap        int
	stats               loader.Stats
	realtime            *status.Realtime
}

func (s *Server) pluginStatuses() []pluginStatus {
	st := s.state.Load()
	out := make([]pluginStatus, 0, len(st.plugins))
	for _, mp := range st.plugins {
		lv := mp.current.Load()
		st := pluginStatus{
			realtime:     realtimeStatus(mp),
			name:         mp.cfg.Name,
			path:         mp.cfg.Path,
			swaps:        mp.totals.swaps.Load(),
			swapFailures: mp.totals.swapFailures.Load(),
			stats:        mp.stats(),
		}
		if p := lv.plugin; p != nil {
			st.version, st.engine, st.loadedAt, st.instancesCap = p.Version, p.Engine, p.LoadedAt, p.Instances()
		}
		if e := mp.lastError.Load(); e != nil {
			st.lastError = *e
		}
		out = append(out, st)
	}
	return out
}

// status reports this server as one worker, with its plugins.
func (s *Server) status() status.Status {
	st := status.Status{Workers: []status.Worker{{
		ID:       s.workerID,
		PID:      os.Getpid(),
		Started:  s.started,
		Requests: s.metrics.requests.Load(),
		InFlight: s.metrics.inFlight.Load(),
	}}}
	st.Chains = s.chainStatus()
	st.Pubsub = s.pubsubStatus()
	for _, p := range s.pluginStatuses() {
		st.Plugins = append(st.Plugins, status.Plugin{
			Name: p.name, Path: p.path, Version: p.version, Engine: p.engine, LoadedAt: p.loadedAt,
			Swaps: p.swaps, LastError: p.lastError,
			Instances: status.Instances{
				Max: p.instancesCap, Idle: p.stats.Idle, Busy: p.stats.Busy, Created: p.stats.Created,
				Discarded: p.stats.Discarded, Traps: p.stats.Traps, Timeouts: p.stats.Timeouts,
			},
			Realtime: p.realtime,
		})
	}
	return st
}

// AdminHandler serves the admin listener: GET /status (JSON), GET
// /metrics (Prometheus text), and POST /plugins/NAME/reload (reread a
// plugin's file and swap it in if it changed; 422 with the error if the
// new version is refused). A prefork worker answers its master's
// questions with the same documents.
func (s *Server) AdminHandler() http.Handler {
	return admin.Handler(admin.Endpoints{
		Status:  func(context.Context) any { return s.status() },
		Metrics: func(_ context.Context, w io.Writer) { s.writeMetrics(w) },
		ReloadPlugin: func(name string) (any, int) {
			res, err := s.ReloadPlugin(name)
			switch {
			case err != nil:
				res.Error = err.Error()
				return res, http.StatusNotFound
			case res.Error != "":
				return res, http.StatusUnprocessableEntity
			}
			return res, http.StatusOK
		},
	})
}

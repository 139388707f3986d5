package host

import (
	"encoding/json"
	"net/http"
	"os"
	"time"

	"github.com/wasmhost/wasmhost/loader"
)

// WorkerStatus is one worker in /status.
type WorkerStatus struct {
	ID       int       `json:"id"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Requests uint64    `json:"requests"`
	InFlight int64     `json:"in_flight"`
	Restarts int       `json:"restarts"`
}

// PluginStatus is one plugin in /status.
type PluginStatus struct {
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	Version   string    `json:"version"`
	Engine    string    `json:"engine"`
	LoadedAt  time.Time `json:"loaded_at"`
	Swaps     uint64    `json:"swaps"`
	LastError string    `json:"last_error"`
	// Beyond the contract's fields: the pool, for operators.
	Instances InstanceStatus `json:"instances"`
}

// InstanceStatus describes a plugin's pool.
type InstanceStatus struct {
	Max       int   `json:"max"`
	Idle      int64 `json:"idle"`
	Busy      int64 `json:"busy"`
	Created   int64 `json:"created"`
	Discarded int64 `json:"discarded"`
	Traps     int64 `json:"traps"`
	Timeouts  int64 `json:"timeouts"`
}

// Add adds another process's figures for the same plugin, for a status
// across processes.
func (s *InstanceStatus) Add(o InstanceStatus) {
	s.Max += o.Max
	s.Idle += o.Idle
	s.Busy += o.Busy
	s.Created += o.Created
	s.Discarded += o.Discarded
	s.Traps += o.Traps
	s.Timeouts += o.Timeouts
}

// Status is the /status document.
type Status struct {
	Workers []WorkerStatus `json:"workers"`
	Plugins []PluginStatus `json:"plugins"`
	// Chains lists, for each plugin served through middleware, its links
	// outermost first (chain.go).
	Chains map[string][]LinkStatus `json:"chains,omitempty"`
}

type pluginStatus struct {
	name, path, version string
	engine              string
	loadedAt            time.Time
	swaps, swapFailures uint64
	lastError           string
	instancesCap        int
	stats               loader.Stats
}

func (s *Server) pluginStatuses() []pluginStatus {
	st := s.state.Load()
	out := make([]pluginStatus, 0, len(st.plugins))
	for _, mp := range st.plugins {
		lv := mp.current.Load()
		st := pluginStatus{
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

// Status reports this server as one worker, with its plugins.
func (s *Server) Status() Status {
	st := Status{Workers: []WorkerStatus{{
		ID:       s.workerID,
		PID:      os.Getpid(),
		Started:  s.started,
		Requests: s.metrics.requests.Load(),
		InFlight: s.metrics.inFlight.Load(),
	}}}
	st.Chains = s.ChainStatus()
	for _, p := range s.pluginStatuses() {
		st.Plugins = append(st.Plugins, PluginStatus{
			Name: p.name, Path: p.path, Version: p.version, Engine: p.engine, LoadedAt: p.loadedAt,
			Swaps: p.swaps, LastError: p.lastError,
			Instances: InstanceStatus{
				Max: p.instancesCap, Idle: p.stats.Idle, Busy: p.stats.Busy, Created: p.stats.Created,
				Discarded: p.stats.Discarded, Traps: p.stats.Traps, Timeouts: p.stats.Timeouts,
			},
		})
	}
	return st
}

// AdminHandler serves GET /status (JSON), GET /metrics (Prometheus text),
// and POST /plugins/NAME/reload (reread a plugin's file and swap it in if
// it changed; 422 with the error if the new version is refused).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.Status())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.writeMetrics(w)
	})
	mux.HandleFunc("POST /plugins/{name}/reload", func(w http.ResponseWriter, r *http.Request) {
		res, err := s.ReloadPlugin(r.PathValue("name"))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case err != nil:
			w.WriteHeader(http.StatusNotFound)
			res.Error = err.Error()
		case res.Error != "":
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
		json.NewEncoder(w).Encode(res)
	})
	return mux
}

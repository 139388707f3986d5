// Package status is what a wasmhost process reports about itself on its
// admin listener: the /status document and the /metrics text, and how a
// prefork master merges its workers' into one of each.
//
// A process that serves (a single process, or one worker) reports a
// Status: one row for itself under workers, its plugins with their
// instance pools, and each middleware chain's links. A master serves a
// Fleet instead: the same document with one row per worker process, the
// plugins and chains as the serving workers see them added up
// (MergePlugins, MergeChains), and the master itself. Both are the same
// JSON for what they share, so a client reads either.
//
// Metrics are Prometheus text: PromWriter writes a process's, each sample
// labelled with its worker id and each family declared once, and
// MergeMetrics joins several workers' texts so that every family is still
// declared once.
package status

import "time"

// Status is the /status document of one serving process.
type Status struct {
	Workers []Worker `json:"workers"`
	Plugins []Plugin `json:"plugins"`
	// Chains lists, for each plugin served through middleware, its links
	// outermost first.
	Chains map[string][]Link `json:"chains,omitempty"`
	// Pubsub lists the worker's pubsub hubs.
	Pubsub []Pubsub `json:"pubsub,omitempty"`
}

// Worker is one worker process in /status.
type Worker struct {
	ID       int       `json:"id"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Requests uint64    `json:"requests"`
	InFlight int64     `json:"in_flight"`
	Restarts int       `json:"restarts"`
}

// Plugin is one plugin in /status.
type Plugin struct {
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	Version   string    `json:"version"`
	Engine    string    `json:"engine"`
	LoadedAt  time.Time `json:"loaded_at"`
	Swaps     uint64    `json:"swaps"`
	LastError string    `json:"last_error"`
	// Beyond the fields every client relies on: the pool, for operators.
	Instances Instances `json:"instances"`
	// Realtime is set for a plugin with a websocket block.
	Realtime *Realtime `json:"realtime,omitempty"`
}

// Instances describes a plugin's pool of instances.
type Instances struct {
	Max       int   `json:"max"`
	Idle      int64 `json:"idle"`
	Busy      int64 `json:"busy"`
	Created   int64 `json:"created"`
	Discarded int64 `json:"discarded"`
	Traps     int64 `json:"traps"`
	Timeouts  int64 `json:"timeouts"`
}

// Add adds another process's figures for the same plugin: the pools of
// several workers are one pool to whoever reads the merged document.
func (s *Instances) Add(o Instances) {
	s.Max += o.Max
	s.Idle += o.Idle
	s.Busy += o.Busy
	s.Created += o.Created
	s.Discarded += o.Discarded
	s.Traps += o.Traps
	s.Timeouts += o.Timeouts
}

// Link is one link of a middleware chain in /status.
type Link struct {
	Name     string  `json:"name"`
	Builtin  bool    `json:"builtin"`
	Requests int64   `json:"requests"`
	Failures int64   `json:"failures"`
	TimeMS   float64 `json:"time_ms"` // total, including the links below
	OwnMS    float64 `json:"own_ms"`  // total, less the links below
}

// Add adds another process's counters for the same link.
func (l *Link) Add(o Link) {
	l.Requests += o.Requests
	l.Failures += o.Failures
	l.TimeMS += o.TimeMS
	l.OwnMS += o.OwnMS
}

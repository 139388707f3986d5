package prefork

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wasmhost/wasmhost/host"
)

// The master's admin listener is how workers that share a port are told
// apart: /status has a row per worker process and /metrics a series per
// worker, each fetched from the worker over its control channel when
// asked. Tornado's third limit, processes sharing a port being hard to
// monitor individually, comes from having nobody in a position to ask.

// queryTimeout bounds the wait for a worker's answer; a worker too busy
// to answer in time is listed with an error instead of stalling the page.
const queryTimeout = 2 * time.Second

// view is what the admin handlers see of the master: a copy published by
// the loop after every event, so that they never touch its state.
type view struct {
	pid        int
	started    time.Time
	version    string
	generation int // serving
	want       int
	reloads    map[string]int
	upgrading  int // the new master's pid during an upgrade
	workers    []workerView
}

type workerView struct {
	id, gen, pid int
	started      time.Time
	restarts     int
	state        string // starting, ready, stopping
	serving      bool   // of the serving generation, and ready
	ctl          *ctlConn
}

func (m *master) publish() {
	v := &view{pid: os.Getpid(), started: m.started, version: m.o.Version, want: m.want, reloads: map[string]int{}}
	for k, n := range m.reloads {
		v.reloads[k] = n
	}
	if m.cur != nil {
		v.generation = m.cur.n
	}
	if m.upgrade != nil && !m.handedOver {
		v.upgrading = m.upgrade.Pid
	}
	for _, g := range m.gens {
		for _, w := range g.workers {
			state := "starting"
			switch {
			case w.stopping:
				state = "stopping"
			case w.ready:
				state = "ready"
			}
			v.workers = append(v.workers, workerView{
				id: w.id, gen: g.n, pid: w.pid, started: w.started, restarts: m.slot(w.id).restarts,
				state: state, serving: g == m.cur && w.ready && !w.stopping, ctl: w.ctl,
			})
		}
	}
	sort.Slice(v.workers, func(i, j int) bool {
		a, b := v.workers[i], v.workers[j]
		if a.gen != b.gen {
			return a.gen < b.gen
		}
		return a.id < b.id
	})
	m.view.Store(v)
}

// WorkerStatus is a worker in the master's /status: the contract's
// fields, and which generation (configuration) it runs and its state.
type WorkerStatus struct {
	host.WorkerStatus
	Generation int    `json:"generation"`
	State      string `json:"state"`
	Error      string `json:"error,omitempty"` // why its counters are missing
}

// MasterStatus describes the master in /status.
type MasterStatus struct {
	PID           int            `json:"pid"`
	Started       time.Time      `json:"started"`
	Version       string         `json:"version"`
	Generation    int            `json:"generation"`
	WorkersWanted int            `json:"workers_wanted"`
	Reloads       map[string]int `json:"reloads"`
	UpgradingTo   int            `json:"upgrading_to,omitempty"`
}

// Totals add up the worker processes (retiring ones too: their requests
// in flight are real); restarts are counted once per worker id.
type Totals struct {
	Workers  int    `json:"workers"`
	Requests uint64 `json:"requests"`
	InFlight int64  `json:"in_flight"`
	Restarts int    `json:"restarts"`
}

// Status is the master's /status document: the single process's, with
// a row per worker process, plus the master and totals.
type Status struct {
	Master  MasterStatus        `json:"master"`
	Workers []WorkerStatus      `json:"workers"`
	Plugins []host.PluginStatus `json:"plugins"`
	Totals  Totals              `json:"totals"`
	// Chains: each chain's links, their counters added up over the serving
	// workers (admin_chains.go).
	Chains map[string][]host.LinkStatus `json:"chains,omitempty"`
}

func (m *master) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(m.status(r.Context()))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write([]byte(m.metrics(r.Context())))
	})
	return mux
}

// ask sends the same request to several workers at once.
func ask(ctx context.Context, ws []workerView, typ string) ([]*message, []error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	replies, errs := make([]*message, len(ws)), make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = w.ctl.call(ctx, typ)
		}()
	}
	wg.Wait()
	return replies, errs
}

func (m *master) status(ctx context.Context) Status {
	v := m.view.Load()
	st := Status{
		Master: MasterStatus{PID: v.pid, Started: v.started, Version: v.version, Generation: v.generation,
			WorkersWanted: v.want, Reloads: v.reloads, UpgradingTo: v.upgrading},
		Workers: []WorkerStatus{},
		Plugins: []host.PluginStatus{},
	}
	replies, errs := ask(ctx, v.workers, msgStatus)
	var serving []host.Status
	restarts := map[int]int{}
	for i, w := range v.workers {
		ws := WorkerStatus{
			WorkerStatus: host.WorkerStatus{ID: w.id, PID: w.pid, Started: w.started, Restarts: w.restarts},
			Generation:   w.gen, State: w.state,
		}
		if errs[i] != nil {
			ws.Error = errs[i].Error()
		} else if rs := replies[i].Status; rs != nil && len(rs.Workers) > 0 {
			ws.Started = rs.Workers[0].Started
			ws.Requests = rs.Workers[0].Requests
			ws.InFlight = rs.Workers[0].InFlight
			if w.serving {
				serving = append(serving, *rs)
			}
		}
		st.Workers = append(st.Workers, ws)
		if w.serving {
			st.Totals.Workers++
		}
		st.Totals.Requests += ws.Requests
		st.Totals.InFlight += ws.InFlight
		restarts[w.id] = w.restarts
	}
	for _, n := range restarts {
		st.Totals.Restarts += n
	}
	st.Plugins = mergePlugins(serving)
	st.Chains = mergeChains(serving)
	return st
}

// mergePlugins describes each plugin once for the serving workers: as
// the lowest worker id sees it, with the instance counts of all of them
// added up. Every worker loads the same files, so they differ only while
// a plugin is being swapped in.
func mergePlugins(sts []host.Status) []host.PluginStatus {
	if len(sts) == 0 {
		return []host.PluginStatus{}
	}
	out := append([]host.PluginStatus(nil), sts[0].Plugins...)
	for _, st := range sts[1:] {
		for _, p := range st.Plugins {
			for i := range out {
				if out[i].Name != p.Name {
					continue
				}
				out[i].Instances.Add(p.Instances)
				if out[i].LastError == "" {
					out[i].LastError = p.LastError
				}
			}
		}
	}
	return out
}

// metrics is every serving worker's metrics, merged, and the master's.
// Workers being started or retired are left out: a retiring worker 0 and
// its replacement would both be worker="0", and a series must be unique.
func (m *master) metrics(ctx context.Context) string {
	v := m.view.Load()
	var serving []workerView
	for _, w := range v.workers {
		if w.serving {
			serving = append(serving, w)
		}
	}
	replies, errs := ask(ctx, serving, msgMetrics)
	var texts []string
	for i := range serving {
		if errs[i] == nil {
			texts = append(texts, replies[i].Metrics)
		}
	}
	var b strings.Builder
	b.WriteString(mergeMetrics(texts))
	fmt.Fprintf(&b, "# HELP wasmhost_workers Worker processes serving the current configuration.\n# TYPE wasmhost_workers gauge\nwasmhost_workers %d\n", len(serving))
	fmt.Fprintf(&b, "# HELP wasmhost_workers_wanted Worker processes the master keeps running (server.processes, TTIN, TTOU).\n# TYPE wasmhost_workers_wanted gauge\nwasmhost_workers_wanted %d\n", v.want)
	b.WriteString("# HELP wasmhost_worker_restarts_total Times the master replaced a worker that died, by worker id.\n# TYPE wasmhost_worker_restarts_total counter\n")
	restarts := map[int]int{}
	for _, w := range v.workers {
		restarts[w.id] = w.restarts
	}
	for id := range max(v.want, len(restarts)) {
		fmt.Fprintf(&b, "wasmhost_worker_restarts_total{worker=\"%d\"} %d\n", id, restarts[id])
	}
	b.WriteString("# HELP wasmhost_reloads_total Reloads (SIGHUP) by result.\n# TYPE wasmhost_reloads_total counter\n")
	for _, r := range []string{"ok", "failed"} {
		fmt.Fprintf(&b, "wasmhost_reloads_total{result=%q} %d\n", r, v.reloads[r])
	}
	return b.String()
}

// mergeMetrics joins Prometheus texts so that each metric family is
// declared once: families in the order first seen, each with its HELP and
// TYPE and then its samples from every text in turn. A sample belongs to
// the family declared last before it, which keeps a histogram's _bucket,
// _sum and _count lines with their family.
func mergeMetrics(texts []string) string {
	type family struct {
		help, typ string
		samples   []string
	}
	fams := map[string]*family{}
	var order []string
	get := func(name string) *family {
		f := fams[name]
		if f == nil {
			f = &family{}
			fams[name] = f
			order = append(order, name)
		}
		return f
	}
	for _, text := range texts {
		var cur *family
		for _, line := range strings.Split(text, "\n") {
			switch {
			case line == "":
			case strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE "):
				fields := strings.SplitN(line, " ", 4)
				if len(fields) < 3 {
					continue
				}
				cur = get(fields[2])
				if fields[1] == "HELP" && cur.help == "" {
					cur.help = line
				} else if fields[1] == "TYPE" && cur.typ == "" {
					cur.typ = line
				}
			case strings.HasPrefix(line, "#"):
			default:
				if cur == nil {
					name, _, _ := strings.Cut(line, "{")
					name, _, _ = strings.Cut(name, " ")
					cur = get(name)
				}
				cur.samples = append(cur.samples, line)
			}
		}
	}
	var b strings.Builder
	for _, name := range order {
		f := fams[name]
		for _, h := range []string{f.help, f.typ} {
			if h != "" {
				b.WriteString(h)
				b.WriteByte('\n')
			}
		}
		for _, s := range f.samples {
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

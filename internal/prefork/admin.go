package prefork

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wasmhost/wasmhost/internal/admin"
	"github.com/wasmhost/wasmhost/internal/control"
	"github.com/wasmhost/wasmhost/internal/status"
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
	ctl          *control.Conn
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

func (m *master) adminHandler() http.Handler {
	return admin.Handler(admin.Endpoints{
		Status:  func(ctx context.Context) any { return m.status(ctx) },
		Metrics: m.writeMetrics,
	})
}

// ask sends the same request to several workers at once.
func ask(ctx context.Context, ws []workerView, typ string) ([]*control.Message, []error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	replies, errs := make([]*control.Message, len(ws)), make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = w.ctl.Call(ctx, typ)
		}()
	}
	wg.Wait()
	return replies, errs
}

// status is the master's /status document: each worker's own, asked for
// now, merged.
func (m *master) status(ctx context.Context) status.Fleet {
	v := m.view.Load()
	st := status.Fleet{
		Master: status.Master{PID: v.pid, Started: v.started, Version: v.version, Generation: v.generation,
			WorkersWanted: v.want, Reloads: v.reloads, UpgradingTo: v.upgrading},
		Workers: []status.FleetWorker{},
		Plugins: []status.Plugin{},
	}
	replies, errs := ask(ctx, v.workers, control.MsgStatus)
	var serving []status.Status
	restarts := map[int]int{}
	for i, w := range v.workers {
		ws := status.FleetWorker{
			Worker:     status.Worker{ID: w.id, PID: w.pid, Started: w.started, Restarts: w.restarts},
			Generation: w.gen, State: w.state,
		}
		var rs status.Status
		err := errs[i]
		if err == nil {
			err = json.Unmarshal(replies[i].Status, &rs)
		}
		if err != nil {
			ws.Error = err.Error()
		} else if len(rs.Workers) > 0 {
			ws.Started = rs.Workers[0].Started
			ws.Requests = rs.Workers[0].Requests
			ws.InFlight = rs.Workers[0].InFlight
			if w.serving {
				serving = append(serving, rs)
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
	st.Plugins = status.MergePlugins(serving)
	st.Chains = status.MergeChains(serving)
	return st
}

// writeMetrics writes every serving worker's metrics, merged, and the
// master's. Workers being started or retired are left out: a retiring
// worker 0 and its replacement would both be worker="0", and a series
// must be unique.
func (m *master) writeMetrics(ctx context.Context, w io.Writer) {
	v := m.view.Load()
	var serving []workerView
	for _, w := range v.workers {
		if w.serving {
			serving = append(serving, w)
		}
	}
	replies, errs := ask(ctx, serving, control.MsgMetrics)
	var texts []string
	for i := range serving {
		if errs[i] == nil {
			texts = append(texts, replies[i].Metrics)
		}
	}
	io.WriteString(w, status.MergeMetrics(texts))
	p := status.NewPromWriter(w, "")
	p.Family("wasmhost_workers", "gauge", "Worker processes serving the current configuration.")
	p.Sample("wasmhost_workers", strconv.Itoa(len(serving)))
	p.Family("wasmhost_workers_wanted", "gauge", "Worker processes the master keeps running (server.processes, TTIN, TTOU).")
	p.Sample("wasmhost_workers_wanted", strconv.Itoa(v.want))
	p.Family("wasmhost_worker_restarts_total", "counter", "Times the master replaced a worker that died, by worker id.")
	restarts := map[int]int{}
	for _, w := range v.workers {
		restarts[w.id] = w.restarts
	}
	for id := range max(v.want, len(restarts)) {
		p.Sample("wasmhost_worker_restarts_total", strconv.Itoa(restarts[id]), "worker", strconv.Itoa(id))
	}
	p.Family("wasmhost_reloads_total", "counter", "Reloads (SIGHUP) by result.")
	for _, r := range []string{"ok", "failed"} {
		p.Sample("wasmhost_reloads_total", strconv.Itoa(v.reloads[r]), "result", r)
	}
}

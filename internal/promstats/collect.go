package promstats

import (
	"context"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source gives the snapshots of a scrape: one per serving worker, and the
// master's figures (nil for a single process).
type Source func(ctx context.Context) ([]Snapshot, *Master)

// Handler serves GET /metrics from src: Prometheus text by default,
// OpenMetrics (with exemplars, ending in "# EOF") to a scraper whose
// Accept header asks for application/openmetrics-text.
func Handler(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snaps, master := src(r.Context())
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(&collector{snaps: snaps, master: master})
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
}

// collector is unchecked (it describes nothing): its series depend on the
// site's plugins and stores, which change with reloads.
type collector struct {
	snaps  []Snapshot
	master *Master
}

func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	e := emitter{ch: ch}
	for _, s := range c.snaps {
		e.snapshot(s)
	}
	if c.master != nil {
		e.master(c.master)
	}
}

type emitter struct {
	ch chan<- prometheus.Metric
}

func (e emitter) value(f *family, v float64, labels ...string) {
	e.ch <- prometheus.MustNewConstMetric(f.desc, f.typ, v, labels...)
}

// histogram writes h as cumulative buckets, with its exemplars attached
// (they are shown only in OpenMetrics).
func (e emitter) histogram(f *family, h Histogram, labels ...string) {
	buckets := make(map[float64]uint64, len(DurationBuckets))
	var cum uint64
	for i, le := range DurationBuckets {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		buckets[le] = cum
	}
	if len(h.Counts) > len(DurationBuckets) {
		cum += h.Counts[len(DurationBuckets)]
	}
	m := prometheus.MustNewConstHistogram(f.desc, cum, h.Sum, buckets, labels...)
	if len(h.Exemplars) > 0 {
		ex := make([]prometheus.Exemplar, 0, len(h.Exemplars))
		for _, x := range h.Exemplars {
			if x.TraceID != "" {
				ex = append(ex, prometheus.Exemplar{Value: x.Value, Labels: prometheus.Labels{"trace_id": x.TraceID}, Timestamp: x.Time})
			}
		}
		if withEx, err := prometheus.NewMetricWithExemplars(m, ex...); err == nil {
			m = withEx
		}
	}
	e.ch <- m
}

func (e emitter) snapshot(s Snapshot) {
	w := strconv.Itoa(s.Worker)
	for _, r := range s.Requests {
		e.value(fRequests, float64(r.Count), w, r.Plugin, strconv.Itoa(r.Status))
	}
	for _, d := range s.Durations {
		e.histogram(fDuration, d.Histogram, w, d.Plugin)
	}
	e.value(fInFlight, float64(s.InFlight), w)
	for _, p := range s.Plugins {
		e.plugin(w, p)
	}
	for _, k := range s.KV {
		e.value(fKV, float64(k.Count), w, k.Store, k.Op, k.Outcome)
	}
	for _, k := range s.KVTimes {
		e.histogram(fKVTime, k.Histogram, w, k.Store, k.Op)
	}
	for _, o := range s.Outbound {
		e.value(fOutbound, float64(o.Count), w, o.Plugin, o.AllowedHost, strconv.Itoa(o.Status))
	}
	for _, o := range s.OutboundTimes {
		e.histogram(fOutboundTime, o.Histogram, w, o.Plugin, o.AllowedHost)
	}
	for _, c := range s.Chains {
		for i, l := range c.Links {
			pos := strconv.Itoa(i)
			e.value(fLinkRequests, float64(l.Requests), w, c.Plugin, l.Name, pos)
			e.value(fLinkFailures, float64(l.Failures), w, c.Plugin, l.Name, pos)
			e.value(fLinkSeconds, l.Seconds, w, c.Plugin, l.Name, pos)
			e.value(fLinkOwn, l.OwnSeconds, w, c.Plugin, l.Name, pos)
		}
	}
}

func (e emitter) plugin(w string, p Plugin) {
	e.value(fInstances, float64(p.Idle), w, p.Name, "idle")
	e.value(fInstances, float64(p.Busy), w, p.Name, "busy")
	e.value(fInstancesMax, float64(p.Max), w, p.Name)
	e.value(fCreated, float64(p.Created), w, p.Name)
	e.value(fDiscarded, float64(p.Discarded), w, p.Name)
	e.value(fWaits, float64(p.Waits), w, p.Name)
	e.value(fTraps, float64(p.Traps), w, p.Name)
	e.value(fTimeouts, float64(p.Timeouts), w, p.Name)
	e.value(fCanceled, float64(p.Canceled), w, p.Name)
	e.value(fSwaps, float64(p.Swaps), w, p.Name)
	e.value(fSwapFailures, float64(p.SwapFailures), w, p.Name)
	e.value(fMemory, float64(p.MemoryHighWater), w, p.Name)
}

// master writes the master's families; restarts are listed for every
// worker id up to the wanted count, zero included, as a counter should be.
func (e emitter) master(m *Master) {
	e.value(fWorkers, float64(m.Workers))
	e.value(fWorkersWanted, float64(m.Wanted))
	for id := range max(m.Wanted, len(m.Restarts)) {
		e.value(fRestarts, float64(m.Restarts[id]), strconv.Itoa(id))
	}
	for _, r := range []string{"ok", "failed"} {
		e.value(fReloads, float64(m.Reloads[r]), r)
	}
}

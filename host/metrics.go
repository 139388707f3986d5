package host

import (
	"fmt"
	"io"
	"maps"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// durationBuckets are the request duration histogram's upper bounds, in
// seconds: from a fast wasm call to the default request timeout.
var durationBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics are a server's request counters. The hot path touches only
// atomics: the maps of counters are a snapshot that is replaced, under mu,
// by a copy with the new key, once per new plugin and status. (A
// sync.RWMutex around them cost every request two atomic operations on
// one cache line that all cores share.)
type metrics struct {
	inFlight atomic.Int64
	requests atomic.Uint64

	mu    sync.Mutex // serializes the writers of keyed
	keyed atomic.Pointer[keyedCounters]
}

type keyedCounters struct {
	byStatus  map[statusKey]*atomic.Uint64
	durations map[string]*histogram
}

type statusKey struct {
	plugin string
	status int
}

type histogram struct {
	counts [len(durationBuckets) + 1]atomic.Uint64
	sumNs  atomic.Uint64
}

func newMetrics() *metrics {
	m := &metrics{}
	m.keyed.Store(&keyedCounters{byStatus: map[statusKey]*atomic.Uint64{}, durations: map[string]*histogram{}})
	return m
}

func (m *metrics) observe(plugin string, status int, d time.Duration) {
	m.requests.Add(1)
	k := statusKey{plugin, status}
	kc := m.keyed.Load()
	c, h := kc.byStatus[k], kc.durations[plugin]
	if c == nil || h == nil {
		c, h = m.add(k)
	}
	c.Add(1)
	s := d.Seconds()
	i := sort.SearchFloat64s(durationBuckets[:], s)
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(d))
}

// add makes the counters of a new key, in a new snapshot.
func (m *metrics) add(k statusKey) (*atomic.Uint64, *histogram) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.keyed.Load()
	c, h := old.byStatus[k], old.durations[k.plugin]
	if c != nil && h != nil {
		return c, h // another request added it first
	}
	next := &keyedCounters{byStatus: maps.Clone(old.byStatus), durations: maps.Clone(old.durations)}
	if c == nil {
		c = new(atomic.Uint64)
		next.byStatus[k] = c
	}
	if h == nil {
		h = new(histogram)
		next.durations[k.plugin] = h
	}
	m.keyed.Store(next)
	return c, h
}

// promWriter writes the Prometheus text exposition format, declaring each
// family once.
type promWriter struct {
	w        io.Writer
	worker   string
	declared map[string]bool
}

func (p *promWriter) family(name, typ, help string) {
	if p.declared[name] {
		return
	}
	p.declared[name] = true
	fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one sample with the worker label first, then labels given
// as name, value pairs.
func (p *promWriter) sample(name string, value string, labels ...string) {
	fmt.Fprintf(p.w, "%s{worker=%q", name, p.worker)
	for i := 0; i+1 < len(labels); i += 2 {
		fmt.Fprintf(p.w, ",%s=%q", labels[i], labels[i+1])
	}
	fmt.Fprintf(p.w, "} %s\n", value)
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }
func i64(v int64) string  { return strconv.FormatInt(v, 10) }

// writeMetrics writes this server's metrics, labelled with its worker id.
func (s *Server) writeMetrics(w io.Writer) {
	p := &promWriter{w: w, worker: strconv.Itoa(s.workerID), declared: map[string]bool{}}
	m := s.metrics

	p.family("wasmhost_requests_total", "counter", "Requests served, by plugin and status (plugin \"\" for requests no plugin served).")
	kc := m.keyed.Load()
	keys := make([]statusKey, 0, len(kc.byStatus))
	for k := range kc.byStatus {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].plugin != keys[j].plugin {
			return keys[i].plugin < keys[j].plugin
		}
		return keys[i].status < keys[j].status
	})
	for _, k := range keys {
		p.sample("wasmhost_requests_total", u64(kc.byStatus[k].Load()), "plugin", k.plugin, "status", strconv.Itoa(k.status))
	}
	names := make([]string, 0, len(kc.durations))
	for name := range kc.durations {
		names = append(names, name)
	}
	sort.Strings(names)
	p.family("wasmhost_request_duration_seconds", "histogram", "Request duration, from routing to the end of the response.")
	for _, name := range names {
		h := kc.durations[name]
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.counts[i].Load()
			p.sample("wasmhost_request_duration_seconds_bucket", u64(cum), "plugin", name, "le", strconv.FormatFloat(le, 'g', -1, 64))
		}
		cum += h.counts[len(durationBuckets)].Load()
		p.sample("wasmhost_request_duration_seconds_bucket", u64(cum), "plugin", name, "le", "+Inf")
		p.sample("wasmhost_request_duration_seconds_sum", strconv.FormatFloat(float64(h.sumNs.Load())/1e9, 'g', -1, 64), "plugin", name)
		p.sample("wasmhost_request_duration_seconds_count", u64(cum), "plugin", name)
	}

	p.family("wasmhost_requests_in_flight", "gauge", "Requests being served now.")
	p.sample("wasmhost_requests_in_flight", i64(m.inFlight.Load()))

	type perPlugin struct {
		name, typ, help string
		value           func(st pluginStatus) string
		labels          []string
	}
	plugins := s.pluginStatuses()
	families := []perPlugin{
		{"wasmhost_instances", "gauge", "Live wasm instances, by state.", func(st pluginStatus) string { return i64(st.stats.Idle) }, []string{"state", "idle"}},
		{"wasmhost_instances", "gauge", "", func(st pluginStatus) string { return i64(st.stats.Busy) }, []string{"state", "busy"}},
		{"wasmhost_instances_max", "gauge", "The instances cap of each plugin.", func(st pluginStatus) string { return strconv.Itoa(st.instancesCap) }, nil},
		{"wasmhost_instances_created_total", "counter", "Instances created (each one runs the guest's initialization).", func(st pluginStatus) string { return i64(st.stats.Created) }, nil},
		{"wasmhost_instances_discarded_total", "counter", "Instances closed after a failure or for growing too large.", func(st pluginStatus) string { return i64(st.stats.Discarded) }, nil},
		{"wasmhost_instance_waits_total", "counter", "Requests that waited for an instance because all were busy.", func(st pluginStatus) string { return i64(st.stats.Waits) }, nil},
		{"wasmhost_guest_traps_total", "counter", "Guest calls that ended in a trap, a panic, or a guest exit.", func(st pluginStatus) string { return i64(st.stats.Traps) }, nil},
		{"wasmhost_guest_timeouts_total", "counter", "Requests stopped because their plugin's timeout passed.", func(st pluginStatus) string { return i64(st.stats.Timeouts) }, nil},
		{"wasmhost_guest_cancellations_total", "counter", "Requests stopped because the client went away.", func(st pluginStatus) string { return i64(st.stats.Canceled) }, nil},
		{"wasmhost_plugin_swaps_total", "counter", "Times a plugin's module was replaced by a new version.", func(st pluginStatus) string { return u64(st.swaps) }, nil},
		{"wasmhost_plugin_swap_failures_total", "counter", "Times a new version of a plugin was refused and the old one kept.", func(st pluginStatus) string { return u64(st.swapFailures) }, nil},
		{"wasmhost_instance_memory_bytes_max", "gauge", "Largest linear memory of an instance after a request.", func(st pluginStatus) string { return u64(st.stats.MemoryHighWater) }, nil},
	}
	for _, f := range families {
		p.family(f.name, f.typ, f.help)
		for _, st := range plugins {
			p.sample(f.name, f.value(st), append([]string{"plugin", st.name}, f.labels...)...)
		}
	}
	s.writeServiceMetrics(p)
	s.writeChainMetrics(p)
}

package host

import (
	"io"
	"maps"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmhost/wasmhost/internal/status"
)

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
	durations map[string]*status.Histogram
}

type statusKey struct {
	plugin string
	status int
}

func newMetrics() *metrics {
	m := &metrics{}
	m.keyed.Store(&keyedCounters{byStatus: map[statusKey]*atomic.Uint64{}, durations: map[string]*status.Histogram{}})
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
	h.Observe(d)
}

// add makes the counters of a new key, in a new snapshot.
func (m *metrics) add(k statusKey) (*atomic.Uint64, *status.Histogram) {
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
		h = new(status.Histogram)
		next.durations[k.plugin] = h
	}
	m.keyed.Store(next)
	return c, h
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }
func i64(v int64) string  { return strconv.FormatInt(v, 10) }

// writeMetrics writes this server's metrics, labelled with its worker id.
func (s *Server) writeMetrics(w io.Writer) {
	p := status.NewPromWriter(w, strconv.Itoa(s.workerID))
	m := s.metrics

	p.Family("wasmhost_requests_total", "counter", "Requests served, by plugin and status (plugin \"\" for requests no plugin served).")
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
		p.Sample("wasmhost_requests_total", u64(kc.byStatus[k].Load()), "plugin", k.plugin, "status", strconv.Itoa(k.status))
	}
	names := make([]string, 0, len(kc.durations))
	for name := range kc.durations {
		names = append(names, name)
	}
	sort.Strings(names)
	p.Family("wasmhost_request_duration_seconds", "histogram", "Request duration, from routing to the end of the response.")
	for _, name := range names {
		p.Histogram("wasmhost_request_duration_seconds", kc.durations[name], "plugin", name)
	}

	p.Family("wasmhost_requests_in_flight", "gauge", "Requests being served now.")
	p.Sample("wasmhost_requests_in_flight", i64(m.inFlight.Load()))

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
		p.Family(f.name, f.typ, f.help)
		for _, st := range plugins {
			p.Sample(f.name, f.value(st), append([]string{"plugin", st.name}, f.labels...)...)
		}
	}
	s.writeServiceMetrics(p)
	s.writeChainMetrics(p)
	s.writeRealtimeMetrics(p)
}

// Package promstats turns the host's counters into the Prometheus
// exposition that /metrics serves, through prometheus/client_golang: the
// plain text format for existing scrapers and, when the scraper asks for
// it, OpenMetrics with exemplars that carry trace ids.
//
// The model is a snapshot per worker, taken at scrape time from the
// counters the request path keeps with atomics: the host fills a Snapshot,
// a prefork master gathers one from each serving worker, and a scrape
// renders them all at once, each series labelled with its worker. A
// Snapshot is plain data (JSON on the control channel), so merging workers
// needs no parsing of text, and exemplars survive the merge.
//
// The metric names, help texts, types and labels are those /metrics has
// always had (families.go); a test holds them to a saved scrape.
//
// The request path keeps its atomics rather than the OpenTelemetry metrics
// SDK's instruments: an SDK counter and histogram update with prepared
// attribute sets costs about ten times the atomics and allocates, and its
// Prometheus exporter renames series (unit and _total suffixes, scope
// labels), which would break existing scrapers.
package promstats

import "time"

// DurationBuckets are the upper bounds, in seconds, of every duration
// histogram: from a fast wasm call to the default request timeout.
var DurationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Snapshot is one worker's counters at one moment.
type Snapshot struct {
	Worker        int                 `json:"worker"`
	InFlight      int64               `json:"in_flight"`
	Requests      []RequestCount      `json:"requests,omitempty"`
	Durations     []PluginHistogram   `json:"durations,omitempty"`
	Plugins       []Plugin            `json:"plugins,omitempty"`
	KV            []KVCount           `json:"kv,omitempty"`
	KVTimes       []KVHistogram       `json:"kv_times,omitempty"`
	Outbound      []OutboundCount     `json:"outbound,omitempty"`
	OutboundTimes []OutboundHistogram `json:"outbound_times,omitempty"`
	Chains        []Chain             `json:"chains,omitempty"`
}

// Histogram is a duration histogram over DurationBuckets.
type Histogram struct {
	// Counts has one count per bucket, not cumulative, the last for
	// durations above the largest bound.
	Counts    []uint64   `json:"counts"`
	Sum       float64    `json:"sum"` // seconds
	Exemplars []Exemplar `json:"exemplars,omitempty"`
}

// Exemplar is one observation kept with its trace, so that a bucket leads
// to a trace of a request that fell in it.
type Exemplar struct {
	TraceID string    `json:"trace_id"`
	Value   float64   `json:"value"` // seconds
	Time    time.Time `json:"time"`
}

// RequestCount is wasmhost_requests_total for one plugin and status.
type RequestCount struct {
	Plugin string `json:"plugin"`
	Status int    `json:"status"`
	Count  uint64 `json:"count"`
}

// PluginHistogram is one plugin's request durations.
type PluginHistogram struct {
	Plugin string `json:"plugin"`
	Histogram
}

// Plugin is one plugin's pool and swap counters.
type Plugin struct {
	Name            string `json:"name"`
	Idle, Busy      int64
	Max             int
	Created         int64
	Discarded       int64
	Waits           int64
	Traps           int64
	Timeouts        int64
	Canceled        int64
	Swaps           uint64
	SwapFailures    uint64
	MemoryHighWater uint64
}

// KVCount is wasmhost_kv_operations_total for one store, operation and
// outcome.
type KVCount struct {
	Store, Op, Outcome string
	Count              uint64
}

// KVHistogram is one store operation's latencies.
type KVHistogram struct {
	Store, Op string
	Histogram
}

// OutboundCount is wasmhost_outbound_requests_total for one plugin,
// allowed_hosts entry and status (0: no response).
type OutboundCount struct {
	Plugin, AllowedHost string
	Status              int
	Count               uint64
}

// OutboundHistogram is one plugin and destination's times to a response.
type OutboundHistogram struct {
	Plugin, AllowedHost string
	Histogram
}

// Chain is the links of the chain serving a plugin, outermost first.
type Chain struct {
	Plugin string
	Links  []Link
}

// Link is one link's counters.
type Link struct {
	Name       string
	Requests   int64
	Failures   int64
	Seconds    float64 // including the links below
	OwnSeconds float64 // less the links below
}

// Master is a prefork master's own figures, beside its workers'.
type Master struct {
	Workers  int            // serving the current configuration
	Wanted   int            // server.processes, TTIN, TTOU
	Restarts map[int]int    // by worker id
	Reloads  map[string]int // by result: ok, failed
}

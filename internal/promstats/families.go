package promstats

import "github.com/prometheus/client_golang/prometheus"

// family is one metric family as /metrics declares it.
type family struct {
	name, help string
	typ        prometheus.ValueType // or histogram, below
	histogram  bool
	labels     []string
	desc       *prometheus.Desc
}

func fam(name, help string, typ prometheus.ValueType, labels ...string) *family {
	return &family{name: name, help: help, typ: typ, labels: labels, desc: prometheus.NewDesc(name, help, labels, nil)}
}

func hist(name, help string, labels ...string) *family {
	f := fam(name, help, 0, labels...)
	f.histogram = true
	return f
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// The families, in the order /metrics writes them. Their names, help,
// types and labels are what scrapers and dashboards rely on.
var (
	fRequests      = fam("wasmhost_requests_total", "Requests served, by plugin and status (plugin \"\" for requests no plugin served).", counter, "worker", "plugin", "status")
	fDuration      = hist("wasmhost_request_duration_seconds", "Request duration, from routing to the end of the response.", "worker", "plugin")
	fInFlight      = fam("wasmhost_requests_in_flight", "Requests being served now.", gauge, "worker")
	fInstances     = fam("wasmhost_instances", "Live wasm instances, by state.", gauge, "worker", "plugin", "state")
	fInstancesMax  = fam("wasmhost_instances_max", "The instances cap of each plugin.", gauge, "worker", "plugin")
	fCreated       = fam("wasmhost_instances_created_total", "Instances created (each one runs the guest's initialization).", counter, "worker", "plugin")
	fDiscarded     = fam("wasmhost_instances_discarded_total", "Instances closed after a failure or for growing too large.", counter, "worker", "plugin")
	fWaits         = fam("wasmhost_instance_waits_total", "Requests that waited for an instance because all were busy.", counter, "worker", "plugin")
	fTraps         = fam("wasmhost_guest_traps_total", "Guest calls that ended in a trap, a panic, or a guest exit.", counter, "worker", "plugin")
	fTimeouts      = fam("wasmhost_guest_timeouts_total", "Requests stopped because their plugin's timeout passed.", counter, "worker", "plugin")
	fCanceled      = fam("wasmhost_guest_cancellations_total", "Requests stopped because the client went away.", counter, "worker", "plugin")
	fSwaps         = fam("wasmhost_plugin_swaps_total", "Times a plugin's module was replaced by a new version.", counter, "worker", "plugin")
	fSwapFailures  = fam("wasmhost_plugin_swap_failures_total", "Times a new version of a plugin was refused and the old one kept.", counter, "worker", "plugin")
	fMemory        = fam("wasmhost_instance_memory_bytes_max", "Largest linear memory of an instance after a request.", gauge, "worker", "plugin")
	fKV            = fam("wasmhost_kv_operations_total", "Key-value operations of plugins, by store, operation and outcome (ok, not_found, error).", counter, "worker", "store", "op", "outcome")
	fKVTime        = hist("wasmhost_kv_operation_duration_seconds", "Key-value operation latency, by store and operation.", "worker", "store", "op")
	fOutbound      = fam("wasmhost_outbound_requests_total", "Outbound HTTP requests of plugins, by plugin, the allowed_hosts entry they matched and status (0: no response).", counter, "worker", "plugin", "allowed_host", "status")
	fOutboundTime  = hist("wasmhost_outbound_request_duration_seconds", "Time from an outbound request to its response head, by plugin and the allowed_hosts entry it matched.", "worker", "plugin", "allowed_host")
	fLinkRequests  = fam("wasmhost_link_requests_total", "Requests through each link of a middleware chain.", counter, "worker", "plugin", "link", "position")
	fLinkFailures  = fam("wasmhost_link_failures_total", "Requests that failed in or below each link of a chain (trap, timeout, cancellation).", counter, "worker", "plugin", "link", "position")
	fLinkSeconds   = fam("wasmhost_link_seconds_total", "Time spent in each link of a chain, including the links below it.", counter, "worker", "plugin", "link", "position")
	fLinkOwn       = fam("wasmhost_link_own_seconds_total", "Time spent in each link of a chain, less the links below it.", counter, "worker", "plugin", "link", "position")
	fWorkers       = fam("wasmhost_workers", "Worker processes serving the current configuration.", gauge)
	fWorkersWanted = fam("wasmhost_workers_wanted", "Worker processes the master keeps running (server.processes, TTIN, TTOU).", gauge)
	fRestarts      = fam("wasmhost_worker_restarts_total", "Times the master replaced a worker that died, by worker id.", counter, "worker")
	fReloads       = fam("wasmhost_reloads_total", "Reloads (SIGHUP) by result.", counter, "result")
)

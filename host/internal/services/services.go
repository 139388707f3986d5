// Package services is what a plugin reaches beyond HTTP through the
// loader's services calls: the key-value stores site.hcl declares and
// grants it, and its outbound HTTP client. Stores are opened once per
// process, on first use (a Redis that is down fails the calls, not the
// site's start), and shared by every plugin granted them; a reload that
// changes or drops a store's declaration closes it once the requests that
// may still use it are over. Each plugin has its own outbound client,
// whose concurrency bound is the plugin's. The calls are counted and timed
// for the server's metrics.
package services

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/kv"
	"github.com/wasmhost/wasmhost/internal/outbound"
	"github.com/wasmhost/wasmhost/internal/status"
	"github.com/wasmhost/wasmhost/loader"
)

// storeKey identifies a store by its declaration: a reload that changes a
// kv block opens a new store; one that does not keeps the open one.
type storeKey struct {
	name, backend, path, url string
	timeout                  time.Duration
}

func keyOf(d config.KV) storeKey { return storeKey{d.Name, d.Backend, d.Path, d.URL, d.Timeout} }

// Registry holds a server's stores by declaration, and counts the
// services calls of its plugins. Each plugin's services claim the
// declarations they are granted; when a reload leaves one with no claim
// (its kv block changed or went, or every plugin granted it did), its
// store is closed once the requests that may still use it are over.
type Registry struct {
	mu      sync.Mutex
	entries map[storeKey]*storeEntry
	metrics *serviceMetrics
}

// NewRegistry is a registry with no store open.
func NewRegistry() *Registry { return &Registry{metrics: newServiceMetrics()} }

type storeEntry struct {
	store   kv.Store    // nil until first used
	claims  int         // plugin services that may open it
	closer  *time.Timer // armed while claims is 0: closes the store
	opening *openCall   // the open in progress, which other callers wait for
}

// openCall is one kv.Open of a store, and its result once done is closed.
type openCall struct {
	done  chan struct{}
	store kv.Store
	err   error
}

// claim records that a plugin's services may open the store of k.
func (r *Registry) claim(k storeKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.entries == nil {
		r.entries = map[storeKey]*storeEntry{}
	}
	e := r.entries[k]
	if e == nil {
		e = &storeEntry{}
		r.entries[k] = e
	}
	e.claims++
	if e.closer != nil {
		e.closer.Stop() // declared again before it closed: keep it
		e.closer = nil
	}
}

// release gives a claim back. The last one closes the store after grace:
// by then every request that started under the old declaration has ended
// (requests are bounded by their plugin's timeout).
func (r *Registry) release(k storeKey, grace time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[k]
	if e == nil || e.claims == 0 {
		return
	}
	if e.claims--; e.claims == 0 {
		e.closer = time.AfterFunc(grace, func() { r.expire(k, e) })
	}
}

func (r *Registry) expire(k storeKey, e *storeEntry) {
	r.mu.Lock()
	if r.entries[k] != e || e.claims != 0 {
		r.mu.Unlock()
		return
	}
	delete(r.entries, k)
	r.mu.Unlock()
	if e.store != nil {
		e.store.Close()
	}
}

// open returns the store of d, opening it on first use. kv.Open runs
// outside the registry's lock: opening can take long (an SQLite file
// another process holds locked waits out its busy timeout, a file on a
// hung disk never returns), and it must hold up only the callers of that
// store, which wait for the one open in progress, not every other
// plugin's lookups.
func (r *Registry) open(d config.KV) (kv.Store, error) {
	k := keyOf(d)
	r.mu.Lock()
	e := r.entries[k]
	if e == nil {
		r.mu.Unlock()
		// Only a request that outlived the grace of a reload gets here.
		return nil, fmt.Errorf("key-value store %q: its declaration was replaced by a reload", d.Name)
	}
	if e.store != nil {
		s := e.store
		r.mu.Unlock()
		return s, nil
	}
	if c := e.opening; c != nil {
		r.mu.Unlock()
		<-c.done
		return c.store, c.err
	}
	c := &openCall{done: make(chan struct{})}
	e.opening = c
	r.mu.Unlock()

	s, err := kv.Open(d.Backend, d.Path, d.URL)
	r.mu.Lock()
	defer close(c.done)
	defer r.mu.Unlock()
	e.opening = nil
	switch {
	case err != nil:
		c.err = fmt.Errorf("key-value store %q: %w", d.Name, err)
	case r.entries[k] != e:
		// Expired after a reload, or the server closed, while it opened.
		s.Close()
		c.err = fmt.Errorf("key-value store %q: its declaration was replaced by a reload, or the server is stopping", d.Name)
	default:
		e.store = &meteredStore{name: d.Name, Store: kv.WithTimeout(s, d.Timeout), m: r.metrics}
		c.store = e.store
	}
	return c.store, c.err
}

// OpenCount counts the stores open now.
func (r *Registry) OpenCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.entries {
		if e.store != nil {
			n++
		}
	}
	return n
}

// Close closes every store, at the server's shutdown.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.entries {
		if e.closer != nil {
			e.closer.Stop()
		}
		if e.store != nil {
			e.store.Close()
		}
		delete(r.entries, k)
	}
}

// Plugin is one plugin's services (loader.Services), the same for every
// version of it.
type Plugin struct {
	plugin   string
	declared map[string]config.KV // every kv block of the site
	granted  map[string]bool
	reg      *Registry
	client   *outbound.Client
	key      string // what a reload compares, see Key
	claimed  []storeKey
	released bool
}

// Release gives back the plugin's claims on its stores: those no other
// plugin claims close after grace (see Registry.release). Once is enough.
func (p *Plugin) Release(grace time.Duration) {
	if p == nil || p.released {
		return
	}
	p.released = true
	// Requests that started before the reload finish on the old client;
	// it closes their connections as they end (outbound.Client.Close).
	p.client.Close()
	for _, k := range p.claimed {
		p.reg.release(k, grace)
	}
}

func (p *Plugin) Store(name string) (loader.Store, error) {
	d, ok := p.declared[name]
	if !ok {
		return nil, fmt.Errorf("key-value store %q is not declared (add kv %q {} to site.hcl and grant it with kv = [%q] in plugin %q)", name, name, name, p.plugin)
	}
	if !p.granted[name] {
		return nil, fmt.Errorf("key-value store %q is not granted to plugin %q (add it to the plugin's kv = [...] in site.hcl)", name, p.plugin)
	}
	return p.reg.open(d)
}

func (p *Plugin) Outbound() loader.Outbound { return p.client }

var _ loader.Services = (*Plugin)(nil)

// Unchanged reports whether p is what ForPlugin would make of pc in site,
// so that a reload can keep it.
func (p *Plugin) Unchanged(site *config.Site, pc config.Plugin) bool {
	return p.key == Key(site, pc)
}

// ForPlugin builds a plugin's services from its block and the site.
func (r *Registry) ForPlugin(site *config.Site, pc config.Plugin) (*Plugin, error) {
	p := &Plugin{plugin: pc.Name, declared: map[string]config.KV{}, granted: map[string]bool{}, reg: r}
	for _, d := range site.KV {
		p.declared[d.Name] = d
	}
	for _, name := range pc.KV {
		p.granted[name] = true
	}
	caFile := ""
	if site.Outbound != nil {
		caFile = site.Outbound.CAFile
	}
	client, err := outbound.NewClient(pc.AllowedHosts, caFile)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", pc.Name, err)
	}
	m := r.metrics
	client.Observe = func(allowed string, status int, d time.Duration) { m.outbound(pc.Name, allowed, status, d) }
	p.client = client
	p.key = Key(site, pc)
	for _, d := range site.KV {
		if p.granted[d.Name] {
			k := keyOf(d)
			r.claim(k)
			p.claimed = append(p.claimed, k)
		}
	}
	return p, nil
}

// Key is what a plugin's services depend on beyond its own block: the
// declarations of the stores it is granted and the outbound CA file.
func Key(site *config.Site, pc config.Plugin) string {
	k := ""
	for _, d := range site.KV {
		for _, g := range pc.KV {
			if g == d.Name {
				k += fmt.Sprintf("%+v ", keyOf(d))
			}
		}
	}
	if site.Outbound != nil {
		k += "ca=" + site.Outbound.CAFile
	}
	return k
}

// meteredStore counts each operation of a store by outcome and times it.
type meteredStore struct {
	name string
	kv.Store
	m *serviceMetrics
}

func (s *meteredStore) observe(op string, start time.Time, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, kv.ErrNotFound):
		outcome = "not_found"
	default:
		outcome = "error"
	}
	s.m.kvOp(s.name, op, outcome, time.Since(start))
}

func (s *meteredStore) Get(ctx context.Context, key string) ([]byte, error) {
	start := time.Now()
	v, err := s.Store.Get(ctx, key)
	s.observe("get", start, err)
	return v, err
}

func (s *meteredStore) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	start := time.Now()
	m, err := s.Store.GetMany(ctx, keys)
	s.observe("get_many", start, err)
	return m, err
}

func (s *meteredStore) Set(ctx context.Context, key string, value []byte) error {
	start := time.Now()
	err := s.Store.Set(ctx, key, value)
	s.observe("set", start, err)
	return err
}

func (s *meteredStore) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.Store.Delete(ctx, key)
	s.observe("delete", start, err)
	return err
}

func (s *meteredStore) Exists(ctx context.Context, key string) (bool, error) {
	start := time.Now()
	ok, err := s.Store.Exists(ctx, key)
	s.observe("exists", start, err)
	return ok, err
}

func (s *meteredStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	start := time.Now()
	keys, err := s.Store.Keys(ctx, prefix)
	s.observe("keys", start, err)
	return keys, err
}

func (s *meteredStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	start := time.Now()
	n, err := s.Store.Increment(ctx, key, delta)
	s.observe("increment", start, err)
	return n, err
}

func (s *meteredStore) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	start := time.Now()
	ok, err := s.Store.CompareAndSwap(ctx, key, old, new)
	s.observe("compare_and_swap", start, err)
	return ok, err
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// serviceMetrics count the services calls of a server's plugins.
type serviceMetrics struct {
	mu      sync.Mutex
	kvOps   map[[3]string]*uint64           // store, op, outcome
	kvTime  map[[2]string]*status.Histogram // store, op
	outReqs map[outKey]*uint64
	outTime map[[2]string]*status.Histogram // plugin, allowed_hosts entry
}

// outKey labels an outbound request by the allowed_hosts entry it matched,
// never by the host the guest named: a "*." entry matches names without
// end, and each would be a series of its own, kept for the process's life.
type outKey struct {
	plugin, allowed string
	status          int
}

func newServiceMetrics() *serviceMetrics {
	return &serviceMetrics{
		kvOps: map[[3]string]*uint64{}, kvTime: map[[2]string]*status.Histogram{},
		outReqs: map[outKey]*uint64{}, outTime: map[[2]string]*status.Histogram{},
	}
}

func (m *serviceMetrics) kvOp(store, op, outcome string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	count(m.kvOps, [3]string{store, op, outcome})
	hist(m.kvTime, [2]string{store, op}).Observe(d)
}

func (m *serviceMetrics) outbound(plugin, allowed string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	count(m.outReqs, outKey{plugin, allowed, status})
	hist(m.outTime, [2]string{plugin, allowed}).Observe(d)
}

func count[K comparable](m map[K]*uint64, k K) {
	c := m[k]
	if c == nil {
		c = new(uint64)
		m[k] = c
	}
	*c++
}

func hist[K comparable](m map[K]*status.Histogram, k K) *status.Histogram {
	h := m[k]
	if h == nil {
		h = new(status.Histogram)
		m[k] = h
	}
	return h
}

func sortedKeys[K comparable, V any](m map[K]V, less func(a, b K) bool) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
	return keys
}

// WriteMetrics writes the counters of the services calls.
func (r *Registry) WriteMetrics(p *status.PromWriter) { r.metrics.write(p) }

func (m *serviceMetrics) write(p *status.PromWriter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p.Family("wasmhost_kv_operations_total", "counter", "Key-value operations of plugins, by store, operation and outcome (ok, not_found, error).")
	for _, k := range sortedKeys(m.kvOps, func(a, b [3]string) bool { return a[0]+"\x00"+a[1]+"\x00"+a[2] < b[0]+"\x00"+b[1]+"\x00"+b[2] }) {
		p.Sample("wasmhost_kv_operations_total", u64(*m.kvOps[k]), "store", k[0], "op", k[1], "outcome", k[2])
	}
	p.Family("wasmhost_kv_operation_duration_seconds", "histogram", "Key-value operation latency, by store and operation.")
	for _, k := range sortedKeys(m.kvTime, func(a, b [2]string) bool { return a[0]+"\x00"+a[1] < b[0]+"\x00"+b[1] }) {
		p.Histogram("wasmhost_kv_operation_duration_seconds", m.kvTime[k], "store", k[0], "op", k[1])
	}
	p.Family("wasmhost_outbound_requests_total", "counter", "Outbound HTTP requests of plugins, by plugin, the allowed_hosts entry they matched and status (0: no response).")
	for _, k := range sortedKeys(m.outReqs, func(a, b outKey) bool {
		if a.plugin != b.plugin || a.allowed != b.allowed {
			return a.plugin+"\x00"+a.allowed < b.plugin+"\x00"+b.allowed
		}
		return a.status < b.status
	}) {
		p.Sample("wasmhost_outbound_requests_total", u64(*m.outReqs[k]), "plugin", k.plugin, "allowed_host", k.allowed, "status", strconv.Itoa(k.status))
	}
	p.Family("wasmhost_outbound_request_duration_seconds", "histogram", "Time from an outbound request to its response head, by plugin and the allowed_hosts entry it matched.")
	for _, k := range sortedKeys(m.outTime, func(a, b [2]string) bool { return a[0]+"\x00"+a[1] < b[0]+"\x00"+b[1] }) {
		p.Histogram("wasmhost_outbound_request_duration_seconds", m.outTime[k], "plugin", k[0], "allowed_host", k[1])
	}
}

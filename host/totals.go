package host

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wasmhost/wasmhost/loader"
)

// pluginTotals are a plugin's counters over every version it has had, so
// that a hot swap or a reload never makes a *_total metric go down. Each
// loaded version counts for itself (loader.Stats); when a version stops
// serving it joins draining, where its counters are still read (requests in
// flight finish on it), and once it is closed for good they are folded
// into base and the version is let go. One pluginTotals per plugin name
// lives as long as the server.
type pluginTotals struct {
	swaps, swapFailures atomic.Uint64
	// cutTimeouts counts requests the host cut off at their deadline after
	// the guest returned (a body read or a response write the deadline
	// ended); loader.Stats.Timeouts counts those the loader stopped, and
	// stats shows the two together.
	cutTimeouts atomic.Int64

	mu       sync.Mutex
	base     loader.Stats // counters of the versions closed for good
	draining []*loader.Plugin
}

// totalsFor returns the totals of the plugin with that name.
func (s *Server) totalsFor(name string) *pluginTotals {
	s.totalsMu.Lock()
	defer s.totalsMu.Unlock()
	t := s.totals[name]
	if t == nil {
		t = &pluginTotals{}
		s.totals[name] = t
	}
	return t
}

// replace makes next the serving version of mp and moves the previous one
// to draining, under one lock, so no reader counts either twice or not at
// all. The caller holds mp.swapMu.
func (mp *mountedPlugin) replace(next *loadedVersion) {
	mp.totals.mu.Lock()
	prev := mp.current.Swap(next)
	mp.totals.drainLocked(prev.plugin)
	mp.totals.mu.Unlock()
}

// drain moves a version that stops serving (without a successor: the
// plugin is being removed) to draining.
func (t *pluginTotals) drain(p *loader.Plugin) {
	t.mu.Lock()
	t.drainLocked(p)
	t.mu.Unlock()
}

func (t *pluginTotals) drainLocked(p *loader.Plugin) {
	if p != nil && !slices.Contains(t.draining, p) {
		t.draining = append(t.draining, p)
	}
}

// stats returns the serving version's instance gauges with the counters
// summed over every version: those closed, those draining, and the serving
// one unless it is draining itself (a plugin being removed).
func (mp *mountedPlugin) stats() loader.Stats {
	t := mp.totals
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := mp.current.Load().plugin
	sum := t.base
	sum.Timeouts += t.cutTimeouts.Load()
	kept := t.draining[:0]
	for _, p := range t.draining {
		st := p.Stats()
		if p.Drained() {
			// Closed for good: its counters are final.
			addCounters(&t.base, st)
		} else {
			kept = append(kept, p)
		}
		addCounters(&sum, st)
	}
	clear(t.draining[len(kept):])
	t.draining = kept
	if cur == nil {
		// Under debug, a plugin that does not load serves its error: no
		// instances, only the counters of the versions before.
		return sum
	}
	st := cur.Stats()
	if slices.Contains(t.draining, cur) || cur.Drained() {
		st.Live, st.Idle, st.Busy = 0, 0, 0
		counters := loader.Stats{MaxLive: st.MaxLive, MemoryInitial: st.MemoryInitial, MemoryHighWater: st.MemoryHighWater}
		addCounters(&counters, sum)
		return counters
	}
	addCounters(&st, sum)
	return st
}

// addCounters adds b's counters (not its gauges) to a.
func addCounters(a *loader.Stats, b loader.Stats) {
	a.Created += b.Created
	a.Reused += b.Reused
	a.Discarded += b.Discarded
	a.Retired += b.Retired
	a.Waits += b.Waits
	a.Requests += b.Requests
	a.Traps += b.Traps
	a.Timeouts += b.Timeouts
	a.Canceled += b.Canceled
}

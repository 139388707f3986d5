package promstats

import (
	"sort"
	"sync/atomic"
	"time"
)

// Bucket is the index in Histogram.Counts of a duration in seconds.
func Bucket(seconds float64) int { return sort.SearchFloat64s(DurationBuckets, seconds) }

// ExemplarSlots keeps the latest exemplar of each bucket of a histogram,
// for the request path: an observation without a sampled trace costs
// nothing, one with a trace an allocation and an atomic store.
type ExemplarSlots struct {
	slots [15]atomic.Pointer[Exemplar] // len(DurationBuckets)+1
}

// Observe keeps (seconds, traceID) as its bucket's exemplar; traceID ""
// (no sampled trace) keeps nothing.
func (e *ExemplarSlots) Observe(seconds float64, traceID string) {
	if traceID == "" {
		return
	}
	e.slots[Bucket(seconds)].Store(&Exemplar{TraceID: traceID, Value: seconds, Time: time.Now()})
}

// Exemplars lists the exemplars kept, for a Histogram.
func (e *ExemplarSlots) Exemplars() []Exemplar {
	var out []Exemplar
	for i := range e.slots {
		if x := e.slots[i].Load(); x != nil {
			out = append(out, *x)
		}
	}
	return out
}

package status

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// PromWriter writes the Prometheus text exposition format, declaring each
// family once.
type PromWriter struct {
	w        io.Writer
	worker   string
	declared map[string]bool
}

// NewPromWriter writes to w, labelling every sample worker="worker"
// first; with worker "", samples have only the labels they are given.
func NewPromWriter(w io.Writer, worker string) *PromWriter {
	return &PromWriter{w: w, worker: worker, declared: map[string]bool{}}
}

// Family declares a metric family: its HELP and TYPE lines, the first
// time only.
func (p *PromWriter) Family(name, typ, help string) {
	if p.declared[name] {
		return
	}
	p.declared[name] = true
	fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// Sample writes one sample with the worker label first, then labels given
// as name, value pairs.
func (p *PromWriter) Sample(name string, value string, labels ...string) {
	io.WriteString(p.w, name)
	sep := "{"
	if p.worker != "" {
		fmt.Fprintf(p.w, "{worker=%q", p.worker)
		sep = ","
	}
	for i := 0; i+1 < len(labels); i += 2 {
		fmt.Fprintf(p.w, "%s%s=%q", sep, labels[i], labels[i+1])
		sep = ","
	}
	if sep == "," {
		io.WriteString(p.w, "}")
	}
	fmt.Fprintf(p.w, " %s\n", value)
}

// Histogram writes h's samples: a _bucket per bound, _sum and _count.
func (p *PromWriter) Histogram(name string, h *Histogram, labels ...string) {
	var cum uint64
	for i, le := range DurationBuckets {
		cum += h.counts[i].Load()
		p.Sample(name+"_bucket", strconv.FormatUint(cum, 10), append(labels, "le", strconv.FormatFloat(le, 'g', -1, 64))...)
	}
	cum += h.counts[len(DurationBuckets)].Load()
	p.Sample(name+"_bucket", strconv.FormatUint(cum, 10), append(labels, "le", "+Inf")...)
	p.Sample(name+"_sum", strconv.FormatFloat(float64(h.sumNs.Load())/1e9, 'g', -1, 64), labels...)
	p.Sample(name+"_count", strconv.FormatUint(cum, 10), labels...)
}

// DurationBuckets are the duration histograms' upper bounds, in seconds:
// from a fast wasm call to the default request timeout.
var DurationBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram counts durations in DurationBuckets. Observe is safe for
// concurrent use and takes no lock.
type Histogram struct {
	counts [len(DurationBuckets) + 1]atomic.Uint64
	sumNs  atomic.Uint64
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	h.counts[sort.SearchFloat64s(DurationBuckets[:], d.Seconds())].Add(1)
	h.sumNs.Add(uint64(d))
}

// MergeMetrics joins Prometheus texts so that each metric family is
// declared once: families in the order first seen, each with its HELP and
// TYPE and then its samples from every text in turn. A sample belongs to
// the family declared last before it, which keeps a histogram's _bucket,
// _sum and _count lines with their family.
func MergeMetrics(texts []string) string {
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

package promstats_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wasmhost/wasmhost/internal/promstats"
)

const upstream = "http://127.0.0.1:34017"

// hist spreads n observations totalling sum into bucket i.
func hist(i int, n uint64, sum float64) promstats.Histogram {
	c := make([]uint64, len(promstats.DurationBuckets)+1)
	c[i] = n
	return promstats.Histogram{Counts: c, Sum: sum}
}

// saved is the snapshot of the site whose scrape, by the hand-written
// writer this package replaces, is testdata/scrape-before.txt: a chain
// (gzip, errorpage, services) that used a KV store and an upstream, and a
// plugin served alone.
func saved() promstats.Snapshot {
	plugin := func(name string, mem uint64) promstats.Plugin {
		return promstats.Plugin{Name: name, Idle: 1, Max: 16, Created: 1, MemoryHighWater: mem}
	}
	return promstats.Snapshot{
		Worker: 0,
		Requests: []promstats.RequestCount{
			{Plugin: "hello", Status: 200, Count: 2}, {Plugin: "services", Status: 200, Count: 3}, {Plugin: "services", Status: 404, Count: 1},
		},
		Durations: []promstats.PluginHistogram{
			{Plugin: "hello", Histogram: hist(2, 2, 0.001625569)},
			{Plugin: "services", Histogram: hist(5, 4, 0.027922837)},
		},
		Plugins: []promstats.Plugin{plugin("errorpage", 6291456), plugin("services", 7340032), plugin("hello", 6291456)},
		KV: []promstats.KVCount{
			{Store: "default", Op: "get", Outcome: "not_found", Count: 1}, {Store: "default", Op: "get", Outcome: "ok", Count: 1}, {Store: "default", Op: "set", Outcome: "ok", Count: 1},
		},
		KVTimes: []promstats.KVHistogram{
			{Store: "default", Op: "get", Histogram: hist(0, 2, 0.000332681)},
			{Store: "default", Op: "set", Histogram: hist(0, 1, 0.000228803)},
		},
		Outbound:      []promstats.OutboundCount{{Plugin: "services", AllowedHost: upstream, Status: 200, Count: 1}},
		OutboundTimes: []promstats.OutboundHistogram{{Plugin: "services", AllowedHost: upstream, Histogram: hist(1, 1, 0.000517195)}},
		Chains: []promstats.Chain{{Plugin: "services", Links: []promstats.Link{
			{Name: "gzip", Requests: 4, Seconds: 0.027859446, OwnSeconds: 9.609e-05},
			{Name: "errorpage", Requests: 4, Seconds: 0.027763356000000003, OwnSeconds: 0.001607028},
			{Name: "services", Requests: 4, Seconds: 0.026156328, OwnSeconds: 0.026156328},
		}}},
	}
}

func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return fams
}

// series lists a family's series as label sets with their values.
func series(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.Metric {
		var ls []string
		for _, l := range m.Label {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		v := ""
		switch {
		case m.Counter != nil:
			v = fmt.Sprint(m.Counter.GetValue())
		case m.Gauge != nil:
			v = fmt.Sprint(m.Gauge.GetValue())
		case m.Histogram != nil:
			v = fmt.Sprint(m.Histogram.GetSampleCount(), " ", m.Histogram.GetSampleSum(), " ", len(m.Histogram.Bucket))
		}
		out = append(out, strings.Join(ls, ",")+" "+v)
	}
	sort.Strings(out)
	return out
}

// curl fetches a URL with the given Accept header, as a scraper would.
func curl(t *testing.T, url, accept string) (string, string) {
	t.Helper()
	out, err := exec.Command("curl", "-sS", "-H", "Accept: "+accept, "-w", "\n%{content_type}", url).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	return s[:i], s[i+1:]
}

// TestSameAsSavedScrape: the plain text is, family by family, what the
// hand-written writer produced: names, help, types, label names, series
// and values.
func TestSameAsSavedScrape(t *testing.T) {
	before, err := os.ReadFile("testdata/scrape-before.txt")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promstats.Handler(func(context.Context) ([]promstats.Snapshot, *promstats.Master) {
		return []promstats.Snapshot{saved()}, nil
	}))
	defer srv.Close()
	text, ctype := curl(t, srv.URL, "text/plain")
	if !strings.HasPrefix(ctype, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ctype)
	}
	want, got := parse(t, string(before)), parse(t, text)
	for name, wf := range want {
		gf := got[name]
		if gf == nil {
			t.Errorf("family %s missing", name)
			continue
		}
		if gf.GetType() != wf.GetType() || gf.GetHelp() != wf.GetHelp() {
			t.Errorf("family %s: %v %q, want %v %q", name, gf.GetType(), gf.GetHelp(), wf.GetType(), wf.GetHelp())
		}
		if g, w := series(gf), series(wf); strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("family %s series:\n%s\nwant:\n%s", name, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}
	for name := range got {
		if want[name] == nil {
			t.Errorf("family %s is new", name)
		}
	}
	if strings.Contains(text, "trace_id") {
		t.Error("plain text carries exemplars")
	}
}

// TestOpenMetricsExemplar: a scraper asking for OpenMetrics gets the
// request-duration bucket's exemplar with its trace id, and the # EOF.
func TestOpenMetricsExemplar(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	snap := saved()
	snap.Durations[1].Exemplars = []promstats.Exemplar{{TraceID: traceID, Value: 0.0123, Time: time.Unix(1700000000, 0)}}
	srv := httptest.NewServer(promstats.Handler(func(context.Context) ([]promstats.Snapshot, *promstats.Master) {
		return []promstats.Snapshot{snap}, nil
	}))
	defer srv.Close()
	text, ctype := curl(t, srv.URL, "application/openmetrics-text; version=1.0.0; charset=utf-8")
	if !strings.HasPrefix(ctype, "application/openmetrics-text") {
		t.Errorf("Content-Type = %q", ctype)
	}
	if !strings.HasSuffix(text, "# EOF\n") {
		t.Errorf("OpenMetrics without # EOF:\n%s", text)
	}
	// The exemplar sits on the bucket its value falls in.
	want := ` 4 # {trace_id="` + traceID + `"} 0.0123 1.7e+09`
	found := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "wasmhost_request_duration_seconds_bucket{") && strings.Contains(line, `plugin="services"`) &&
			strings.Contains(line, `le="0.025"`) && strings.HasSuffix(line, want) {
			found = true
		}
	}
	if !found {
		t.Errorf("no bucket line ending %q in:\n%s", want, text)
	}
}

// TestMasterFamilies: a prefork master's scrape has every worker's series
// and the master's own families, as it had.
func TestMasterFamilies(t *testing.T) {
	w0, w1 := saved(), saved()
	w1.Worker = 1
	srv := httptest.NewServer(promstats.Handler(func(context.Context) ([]promstats.Snapshot, *promstats.Master) {
		return []promstats.Snapshot{w0, w1}, &promstats.Master{Workers: 2, Wanted: 2, Restarts: map[int]int{1: 3}, Reloads: map[string]int{"ok": 1}}
	}))
	defer srv.Close()
	text, _ := curl(t, srv.URL, "text/plain")
	for _, line := range []string{
		"# TYPE wasmhost_workers gauge\nwasmhost_workers 2\n",
		"wasmhost_workers_wanted 2\n",
		`wasmhost_worker_restarts_total{worker="0"} 0` + "\n" + `wasmhost_worker_restarts_total{worker="1"} 3` + "\n",
		`wasmhost_reloads_total{result="failed"} 0` + "\n" + `wasmhost_reloads_total{result="ok"} 1` + "\n",
		`wasmhost_requests_total{plugin="hello",status="200",worker="1"} 2` + "\n",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("no %q in:\n%s", line, text)
		}
	}
	if n := strings.Count(text, "# TYPE wasmhost_requests_total "); n != 1 {
		t.Errorf("wasmhost_requests_total declared %d times", n)
	}
}

// TestExemplarSlots: only sampled observations are kept, the latest per
// bucket, and the slots cover every bucket.
func TestExemplarSlots(t *testing.T) {
	var e promstats.ExemplarSlots
	e.Observe(0.003, "")
	e.Observe(0.003, "a")
	e.Observe(0.004, "b")
	e.Observe(99, "c")
	got := e.Exemplars()
	if len(got) != 2 || got[0].TraceID != "b" || got[1].TraceID != "c" || got[1].Value != 99 {
		t.Errorf("exemplars = %+v", got)
	}
	if n := testing.AllocsPerRun(100, func() { e.Observe(0.001, "") }); n != 0 {
		t.Errorf("an unsampled observation allocates %v", n)
	}
}

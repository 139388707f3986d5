package status

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestMergeMetricsDeclaresEachFamilyOnce(t *testing.T) {
	worker := func(id int) string {
		return fmt.Sprintf(`# HELP wasmhost_requests_total Requests.
# TYPE wasmhost_requests_total counter
wasmhost_requests_total{worker="%d",plugin="a",status="200"} 1
# HELP wasmhost_request_duration_seconds Duration.
# TYPE wasmhost_request_duration_seconds histogram
wasmhost_request_duration_seconds_bucket{worker="%d",plugin="a",le="+Inf"} 1
wasmhost_request_duration_seconds_sum{worker="%d",plugin="a"} 0.1
wasmhost_request_duration_seconds_count{worker="%d",plugin="a"} 1
`, id, id, id, id)
	}
	got := MergeMetrics([]string{worker(0), worker(1)})
	want := `# HELP wasmhost_requests_total Requests.
# TYPE wasmhost_requests_total counter
wasmhost_requests_total{worker="0",plugin="a",status="200"} 1
wasmhost_requests_total{worker="1",plugin="a",status="200"} 1
# HELP wasmhost_request_duration_seconds Duration.
# TYPE wasmhost_request_duration_seconds histogram
wasmhost_request_duration_seconds_bucket{worker="0",plugin="a",le="+Inf"} 1
wasmhost_request_duration_seconds_sum{worker="0",plugin="a"} 0.1
wasmhost_request_duration_seconds_count{worker="0",plugin="a"} 1
wasmhost_request_duration_seconds_bucket{worker="1",plugin="a",le="+Inf"} 1
wasmhost_request_duration_seconds_sum{worker="1",plugin="a"} 0.1
wasmhost_request_duration_seconds_count{worker="1",plugin="a"} 1
`
	if got != want {
		t.Errorf("merged:\n%s\nwant:\n%s", got, want)
	}
}

func TestMergeChains(t *testing.T) {
	w := func(n int64, names ...string) Status {
		var links []Link
		for _, name := range names {
			links = append(links, Link{Name: name, Requests: n, Failures: 1, TimeMS: 2, OwnMS: 1})
		}
		return Status{Chains: map[string][]Link{"app": links}}
	}
	got := MergeChains([]Status{w(3, "auth", "app"), w(4, "auth", "app"), w(9, "gzip", "app")})
	want := map[string][]Link{"app": {
		{Name: "auth", Requests: 7, Failures: 2, TimeMS: 4, OwnMS: 2},
		{Name: "app", Requests: 7, Failures: 2, TimeMS: 4, OwnMS: 2},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged %+v, want %+v (the worker with another chain left out)", got, want)
	}
	if got := MergeChains([]Status{{}}); got != nil {
		t.Errorf("no chains: %v, want nil", got)
	}
}

func TestPromWriterLabels(t *testing.T) {
	var b strings.Builder
	p := NewPromWriter(&b, "3")
	p.Family("x_total", "counter", "Xs.")
	p.Family("x_total", "counter", "Xs again.")
	p.Sample("x_total", "1", "plugin", "a")
	p.Sample("x_total", "2")
	m := NewPromWriter(&b, "")
	m.Sample("y", "4")
	m.Sample("y", "5", "result", "ok")
	want := `# HELP x_total Xs.
# TYPE x_total counter
x_total{worker="3",plugin="a"} 1
x_total{worker="3"} 2
y 4
y{result="ok"} 5
`
	if b.String() != want {
		t.Errorf("wrote:\n%s\nwant:\n%s", b.String(), want)
	}
}

package prefork

import (
	"reflect"
	"testing"

	"github.com/wasmhost/wasmhost/host"
)

func TestMergeChains(t *testing.T) {
	w := func(n int64, names ...string) host.Status {
		var links []host.LinkStatus
		for _, name := range names {
			links = append(links, host.LinkStatus{Name: name, Requests: n, Failures: 1, TimeMS: 2, OwnMS: 1})
		}
		return host.Status{Chains: map[string][]host.LinkStatus{"app": links}}
	}
	got := mergeChains([]host.Status{w(3, "auth", "app"), w(4, "auth", "app"), w(9, "gzip", "app")})
	want := map[string][]host.LinkStatus{"app": {
		{Name: "auth", Requests: 7, Failures: 2, TimeMS: 4, OwnMS: 2},
		{Name: "app", Requests: 7, Failures: 2, TimeMS: 4, OwnMS: 2},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged %+v, want %+v (the worker with another chain left out)", got, want)
	}
	if got := mergeChains([]host.Status{{}}); got != nil {
		t.Errorf("no chains: %v, want nil", got)
	}
}

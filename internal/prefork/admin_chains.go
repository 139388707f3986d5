package prefork

import "github.com/wasmhost/wasmhost/host"

// mergeChains adds up each link's counters over the serving workers. A
// worker whose chain differs (a reload half applied) is left out of that
// chain's sums rather than mixed into the wrong links.
func mergeChains(sts []host.Status) map[string][]host.LinkStatus {
	out := map[string][]host.LinkStatus{}
	for _, st := range sts {
		for plugin, links := range st.Chains {
			sum, ok := out[plugin]
			if !ok {
				out[plugin] = append([]host.LinkStatus(nil), links...)
				continue
			}
			if !sameLinks(sum, links) {
				continue
			}
			for i, l := range links {
				sum[i].Requests += l.Requests
				sum[i].Failures += l.Failures
				sum[i].TimeMS += l.TimeMS
				sum[i].OwnMS += l.OwnMS
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func sameLinks(a, b []host.LinkStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

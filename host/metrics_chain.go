package host

import (
	"maps"
	"slices"
	"strconv"

	"github.com/wasmhost/wasmhost/internal/status"
)

// writeChainMetrics adds one sample per link of each chain, labelled with
// the plugin the chain serves and the link's name.
func (s *Server) writeChainMetrics(p *status.PromWriter) {
	chains := s.chainStatus()
	if len(chains) == 0 {
		return
	}
	families := []struct {
		name, typ, help string
		value           func(l status.Link) string
	}{
		{"wasmhost_link_requests_total", "counter", "Requests through each link of a middleware chain.", func(l status.Link) string { return i64(l.Requests) }},
		{"wasmhost_link_failures_total", "counter", "Requests that failed in or below each link of a chain (trap, timeout, cancellation).", func(l status.Link) string { return i64(l.Failures) }},
		{"wasmhost_link_seconds_total", "counter", "Time spent in each link of a chain, including the links below it.", func(l status.Link) string { return strconv.FormatFloat(l.TimeMS/1e3, 'g', -1, 64) }},
		{"wasmhost_link_own_seconds_total", "counter", "Time spent in each link of a chain, less the links below it.", func(l status.Link) string { return strconv.FormatFloat(l.OwnMS/1e3, 'g', -1, 64) }},
	}
	for _, f := range families {
		p.Family(f.name, f.typ, f.help)
		for _, plugin := range slices.Sorted(maps.Keys(chains)) {
			for i, l := range chains[plugin] {
				p.Sample(f.name, f.value(l), "plugin", plugin, "link", l.Name, "position", strconv.Itoa(i))
			}
		}
	}
}

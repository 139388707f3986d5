package status

import "time"

// Fleet is a prefork master's /status document: a single process's, with
// a row per worker process, plus the master and totals.
type Fleet struct {
	Master  Master        `json:"master"`
	Workers []FleetWorker `json:"workers"`
	Plugins []Plugin      `json:"plugins"`
	Totals  Totals        `json:"totals"`
	// Chains: each chain's links, their counters added up over the
	// serving workers.
	Chains map[string][]Link `json:"chains,omitempty"`
}

// FleetWorker is a worker in the master's /status: a single process's
// fields, and which generation (configuration) it runs and its state.
type FleetWorker struct {
	Worker
	Generation int    `json:"generation"`
	State      string `json:"state"`
	Error      string `json:"error,omitempty"` // why its counters are missing
}

// Master describes the master in /status.
type Master struct {
	PID           int            `json:"pid"`
	Started       time.Time      `json:"started"`
	Version       string         `json:"version"`
	Generation    int            `json:"generation"`
	WorkersWanted int            `json:"workers_wanted"`
	Reloads       map[string]int `json:"reloads"`
	UpgradingTo   int            `json:"upgrading_to,omitempty"`
}

// Totals add up the worker processes (retiring ones too: their requests
// in flight are real); restarts are counted once per worker id.
type Totals struct {
	Workers  int    `json:"workers"`
	Requests uint64 `json:"requests"`
	InFlight int64  `json:"in_flight"`
	Restarts int    `json:"restarts"`
}

// MergePlugins describes each plugin once for the serving workers: as
// the first of sts sees it, with the instance counts of all of them added
// up. Every worker loads the same files, so they differ only while a
// plugin is being swapped in.
func MergePlugins(sts []Status) []Plugin {
	if len(sts) == 0 {
		return []Plugin{}
	}
	out := append([]Plugin(nil), sts[0].Plugins...)
	for _, st := range sts[1:] {
		for _, p := range st.Plugins {
			for i := range out {
				if out[i].Name != p.Name {
					continue
				}
				out[i].Instances.Add(p.Instances)
				if p.Realtime != nil && out[i].Realtime != nil {
					rt := *out[i].Realtime
					rt.Add(*p.Realtime)
					out[i].Realtime = &rt
				}
				if out[i].LastError == "" {
					out[i].LastError = p.LastError
				}
			}
		}
	}
	return out
}

// MergeChains adds up each link's counters over the serving workers. A
// worker whose chain differs (a reload half applied) is left out of that
// chain's sums rather than mixed into the wrong links.
func MergeChains(sts []Status) map[string][]Link {
	out := map[string][]Link{}
	for _, st := range sts {
		for plugin, links := range st.Chains {
			sum, ok := out[plugin]
			if !ok {
				out[plugin] = append([]Link(nil), links...)
				continue
			}
			if !sameLinks(sum, links) {
				continue
			}
			for i, l := range links {
				sum[i].Add(l)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func sameLinks(a, b []Link) bool {
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

package host_test

import (
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// busyNeighbour runs 40 requests looping in one plugin (timeout 1s, each
// request replaced as soon as it ends) and times sequential hellos in
// another plugin meanwhile. It returns the hello latencies, sorted.
func busyNeighbour(t testing.TB, s *site, hellos int) []time.Duration {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var loops atomic.Int64
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(s.base + "/loop")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					loops.Add(1)
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	// Let the loops fill the CPUs first.
	time.Sleep(300 * time.Millisecond)
	client := &http.Client{Timeout: 10 * time.Second}
	lat := make([]time.Duration, 0, hellos)
	for i := 0; i < hellos; i++ {
		start := time.Now()
		resp, err := client.Get(s.base + "/")
		if err != nil {
			t.Fatalf("hello beside 40 loops: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("hello beside 40 loops: status %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(start))
		time.Sleep(5 * time.Millisecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

const busyNeighbourSite = `
plugin "loop" {
  path      = "{{loop}}"
  mount     = "/loop"
  timeout   = "1s"
  instances = 64
}
plugin "hello" {
  path      = "{{hello}}"
  instances = 4
}`

// A plugin whose guests all loop must not keep a quiet plugin from being
// served: the scheduler admits a plugin with nothing running at once.
func TestBusyPluginDoesNotStarveItsNeighbour(t *testing.T) {
	s := startSiteLogging(t, busyNeighbourSite, hclog.Error)
	lat := busyNeighbour(t, s, 200)
	p50, p95, max := lat[len(lat)/2], lat[len(lat)*95/100], lat[len(lat)-1]
	t.Logf("hello beside 40 looping requests: p50 %v, p95 %v, max %v", p50, p95, max)
	// The goal is p95 < 100ms (BenchmarkBusyNeighbour reports it); the
	// test's bound leaves room for a loaded machine. Without the
	// scheduler p95 was 300ms on an idle one.
	if p95 > 150*time.Millisecond {
		t.Errorf("hello p95 %v beside a busy plugin, want < 150ms", p95)
	}
}

// BenchmarkBusyNeighbour reports the hello latencies beside 40 loops
// (go test -run XXX -bench BusyNeighbour -benchtime 1x ./host/).
func BenchmarkBusyNeighbour(b *testing.B) {
	s := startSiteLogging(b, busyNeighbourSite, hclog.Error)
	for i := 0; i < b.N; i++ {
		lat := busyNeighbour(b, s, 200)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds()), "p95-µs")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	}
}

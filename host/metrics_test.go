package host_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// scrapeTotals reads every *_total sample of /metrics, keyed by the sample
// line without its value.
func scrapeTotals(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		name := line[:max(i, 0)]
		if i < 0 || !strings.Contains(strings.SplitN(name, "{", 2)[0], "_total") {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[name] = v
	}
	return out
}

// TestTotalsSurviveHotSwaps: across five hot swaps no *_total metric goes
// down, and a panic the SDK recovered counts as a guest trap.
func TestTotalsSurviveHotSwaps(t *testing.T) {
	live, v1, v2 := versions(t)
	s := startSite(t, `server { autoreload = false }
plugin "v" {
  path    = "`+live+`"
  timeout = "1s"
}`)
	admin := httptestServer(t, s.srv.AdminHandler())
	trapKey := `wasmhost_guest_traps_total{worker="0",plugin="v"}`
	prev := scrapeTotals(t, admin)
	for i := 0; i < 5; i++ {
		if v, err := versionOf(http.DefaultClient, s.base+"/"); err != nil {
			t.Fatalf("swap %d: %v", i, err)
		} else if want := []string{"one", "two"}[i%2]; v != want {
			t.Fatalf("swap %d: serving %q, want %q", i, v, want)
		}
		if resp, err := http.Get(s.base + "/?panic=1"); err != nil || resp.StatusCode != 500 {
			t.Errorf("a panic answered %v (%v), want 500", resp, err)
		} else {
			resp.Body.Close()
		}
		if resp, err := http.Get(s.base + "/?ms=3000"); err == nil { // past the timeout
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		now := scrapeTotals(t, admin)
		if now[trapKey] < prev[trapKey]+1 {
			t.Errorf("round %d: %s went from %v to %v after a panic, want +1", i, trapKey, prev[trapKey], now[trapKey])
		}
		testutil.CopyFile(t, []string{v2, v1}[i%2], live)
		if res, err := s.srv.ReloadPlugin("v"); err != nil || !res.Swapped {
			t.Fatalf("swap %d: %+v %v", i, res, err)
		}
		after := scrapeTotals(t, admin)
		for _, m := range []map[string]float64{now, after} {
			for k, v := range prev {
				if m[k] < v {
					t.Errorf("round %d: %s went down from %v to %v", i, k, v, m[k])
				}
			}
			prev = m
		}
	}
	// As Prometheus would scrape it: curl, not Go's client.
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sf", admin+"/metrics").Output()
		if err != nil || !strings.Contains(string(out), trapKey+" ") {
			t.Errorf("curl /metrics: %v, no %s in\n%s", err, trapKey, out)
		}
	} else if os.Getenv("CI") == "true" {
		t.Errorf("curl is not installed (CI installs it)")
	}
	if prev[`wasmhost_plugin_swaps_total{worker="0",plugin="v"}`] != 5 {
		t.Errorf("swaps_total %v, want 5", prev[`wasmhost_plugin_swaps_total{worker="0",plugin="v"}`])
	}
	if prev[`wasmhost_guest_timeouts_total{worker="0",plugin="v"}`] < 5 {
		t.Errorf("timeouts_total %v, want at least 5", prev[`wasmhost_guest_timeouts_total{worker="0",plugin="v"}`])
	}
}

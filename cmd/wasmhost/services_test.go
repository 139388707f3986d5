package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// Acceptance tests of the guest services with real processes:
// key-value stores shared by prefork workers and by separate hosts, and
// secrets from the environment.

func servicesPlugin(t *testing.T) string { return testutil.Plugin(t, "plugins/testplugins/services") }

// kvSite is the Extra of a pfSite: one store and the services plugin at /svc.
func kvSite(t *testing.T, store string) string {
	return fmt.Sprintf(`%s
plugin "svc" {
  path  = %q
  mount = "/svc"
  kv    = ["default"]
}
`, store, servicesPlugin(t))
}

// pythonRequests returns python3 when it can import requests.
func pythonRequests(t *testing.T) string { return testutil.PythonRequests(t) }

// incrementsScript sends N increments from C threads, each on a new
// connection, and prints the workers that answered and the failures.
const incrementsScript = `
import json, sys, requests
from concurrent.futures import ThreadPoolExecutor
url, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def one(_):
    try:
        r = requests.get(url, timeout=30, headers={"Connection": "close"})
    except Exception as e:
        return 0, None, repr(e)
    return r.status_code, r.headers.get("X-Worker"), r.text[:300]
with ThreadPoolExecutor(c) as ex:
    res = list(ex.map(one, range(n)))
print(json.dumps({"failed": sum(1 for s, _, _ in res if s != 200), "workers": sorted(set(w for _, w, _ in res if w)),
                  "failures": ["%d %s" % (s, body) for s, _, body in res if s != 200][:5]}))
`

func TestKVIncrementsAcrossWorkers(t *testing.T) {
	py := pythonRequests(t)
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	store := fmt.Sprintf(`kv "default" { path = %q }`, filepath.Join(dir, "counter.kv"))
	p, site := pfStart(t, bin, pfSite{Processes: 2, Extra: kvSite(t, store)})

	out, err := exec.Command(py, "-c", incrementsScript, "http://"+p.Addr+"/svc/kv/incr?key=hits", "1000", "16").CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var res struct {
		Failed   int      `json:"failed"`
		Workers  []string `json:"workers"`
		Failures []string `json:"failures"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python3 output %q: %v", out, err)
	}
	if res.Failed != 0 || len(res.Workers) < 2 {
		t.Errorf("%d increments failed (%q); workers that answered: %v (want both)", res.Failed, res.Failures, res.Workers)
	}
	if got := get(t, "http://"+p.Addr+"/svc/kv/get?key=hits"); got != "1000" {
		t.Fatalf("1,000 increments from 16 clients across 2 workers counted %s", got)
	}

	// The embedded store survives a restart.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if !p.wait(30 * time.Second) {
		t.Fatal("wasmhost did not stop on SIGTERM")
	}
	p2 := startPf(t, bin, site, true, "run", site)
	if got := get(t, "http://"+p2.Addr+"/svc/kv/get?key=hits"); got != "1000" {
		t.Errorf("after a restart the counter is %s, want 1000", got)
	}
}

// tryBody is a GET that returns the status and body, reporting errors.
func tryBody(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestKVRedisAcrossHosts(t *testing.T) {
	redisURL := testutil.Redis(t)
	bin := testutil.Binary(t, "")
	store := fmt.Sprintf(`kv "default" {
  backend = "redis"
  url     = %q
}`, redisURL)
	a, _ := pfStart(t, bin, pfSite{Processes: 1, Extra: kvSite(t, store)})
	b, _ := pfStart(t, bin, pfSite{Processes: 1, Extra: kvSite(t, store)})
	hosts := []string{"http://" + a.Addr + "/svc", "http://" + b.Addr + "/svc"}

	// 600 increments, 300 through each host, 6 clients per host.
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func(host string) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if st, body, err := tryBody(host + "/kv/incr?key=hits"); err != nil || st != 200 {
					errs <- fmt.Errorf("increment: %d %q %v", st, body, err)
					return
				}
			}
		}(hosts[i%2])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, h := range hosts {
		if got := get(t, h+"/kv/get?key=hits"); got != "600" {
			t.Errorf("600 increments over two hosts: %s sees %s", h, got)
		}
	}

	// A counter kept with CompareAndSwap by 8 clients over both hosts:
	// each reads the value and swaps in value+1, retrying on a lost race.
	// Any non-atomic swap would lose an update.
	get(t, hosts[0]+"/kv/set?key=cas&value=0")
	errs = make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(host string) {
			defer wg.Done()
			for done := 0; done < 25; {
				_, cur, err := tryBody(host + "/kv/get?key=cas")
				if err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(cur, &n)
				st, swapped, err := tryBody(fmt.Sprintf("%s/kv/cas?key=cas&old=%s&new=%d", host, cur, n+1))
				if err != nil || st != 200 {
					errs <- fmt.Errorf("cas: %d %q %v", st, swapped, err)
					return
				}
				if swapped == "true" {
					done++
				}
			}
		}(hosts[i%2])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := get(t, hosts[1]+"/kv/get?key=cas"); got != "200" {
		t.Errorf("200 compare-and-swap increments over two hosts gave %s", got)
	}
	// Exactly one of many concurrent "set if absent" wins.
	wins := make(chan string, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, body, _ := tryBody(fmt.Sprintf("%s/kv/cas?key=lock&absent=1&new=%d", hosts[i%2], i))
			wins <- body
		}(i)
	}
	wg.Wait()
	close(wins)
	n := 0
	for w := range wins {
		if w == "true" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of 16 concurrent set-if-absent calls won, want exactly 1", n)
	}
}

func TestEnvSecretsStayHidden(t *testing.T) {
	const secret = "s3cr3t-value-7f9a2c"
	t.Setenv("WASMHOST_TEST_API_KEY", secret)
	bin := testutil.Binary(t, "")
	extra := fmt.Sprintf(`plugin "svc" {
  path  = %q
  mount = "/svc"
  env   = { API_KEY = env("WASMHOST_TEST_API_KEY"), MODE = env("WASMHOST_TEST_UNSET", "default-mode") }
}
`, servicesPlugin(t))
	p, _ := pfStart(t, bin, pfSite{Processes: 1, Extra: extra}, "--log-level", "debug")
	tryBody("http://" + p.Addr + "/svc/nothing-here")
	tryBody("http://" + p.Addr + "/svc/kv/open?store=default")
	for _, path := range []string{"/status", "/metrics"} {
		if body := get(t, "http://"+p.Admin+path); strings.Contains(body, secret) {
			t.Errorf("admin %s shows the secret:\n%s", path, body)
		}
	}
	if logs := p.logs.String(); strings.Contains(logs, secret) {
		t.Errorf("the log shows the secret:\n%s", logs)
	}

	// check: a missing variable is a diagnostic naming it at its position;
	// a bad value from the environment is reported without the value.
	site := filepath.Join(t.TempDir(), "site.hcl")
	os.WriteFile(site, []byte(fmt.Sprintf("plugin \"svc\" {\n  path    = %q\n  env     = { K = env(\"WASMHOST_TEST_MISSING\") }\n  timeout = env(\"WASMHOST_TEST_API_KEY\")\n}\n", servicesPlugin(t))), 0o644)
	out, err := exec.Command(bin, "check", site).CombinedOutput()
	if code := exitCode(err); code != 2 {
		t.Errorf("check with a missing variable exited %d, want 2\n%s", code, out)
	}
	if !strings.Contains(string(out), "site.hcl:3,") || !strings.Contains(string(out), `"WASMHOST_TEST_MISSING" is not set`) {
		t.Errorf("check output does not name the missing variable at its position:\n%s", out)
	}
	if strings.Contains(string(out), secret) {
		t.Errorf("check prints the secret:\n%s", out)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// TestOutboundThroughCurl drives outbound HTTP from curl: an allowed
// upstream's answer relayed, a refused one with its reason, and the
// refusal in the host's log with the plugin's name.
func TestOutboundThroughCurl(t *testing.T) {
	curl := testutil.Need(t, "curl")
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "yes")
		io.WriteString(w, "upstream says hi")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(ln)
	defer up.Close()
	upURL := "http://" + ln.Addr().String()

	bin := testutil.Binary(t, "")
	extra := fmt.Sprintf(`plugin "svc" {
  path          = %q
  mount         = "/svc"
  allowed_hosts = [%q]
}
`, servicesPlugin(t), upURL)
	p, _ := pfStart(t, bin, pfSite{Processes: 1, Extra: extra})
	run := func(url string) string {
		out, err := exec.Command(curl, "-s", "-i", url).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", url, err, out)
		}
		return string(out)
	}
	if out := run("http://" + p.Addr + "/svc/fetch?url=" + upURL + "/x"); !strings.Contains(out, "200 OK") ||
		!strings.Contains(out, "X-Upstream: yes") || !strings.HasSuffix(out, "upstream says hi") {
		t.Errorf("allowed upstream through curl:\n%s", out)
	}
	out := run("http://" + p.Addr + "/svc/fetch?url=http://169.254.169.254/latest/meta-data/")
	if !strings.Contains(out, "502") || !strings.Contains(out, "not allowed") || !strings.Contains(out, "169.254.169.254") {
		t.Errorf("metadata address through curl:\n%s", out)
	}
	if !eventually(5*time.Second, func() bool {
		logs := p.logs.String()
		return strings.Contains(logs, "[WARN]") && strings.Contains(logs, "outbound request refused") && strings.Contains(logs, "plugin=svc")
	}) {
		t.Errorf("the refusal is not in the log at warn with the plugin's name:\n%s", p.logs.String())
	}
}

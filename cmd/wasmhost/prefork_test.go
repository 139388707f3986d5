package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// Acceptance tests of prefork mode, each with real processes on
// loopback under a bounded load. Durations are kept short (a few seconds
// of load each) so the whole package stays within CI's budget.

func pfStart(t *testing.T, bin string, s pfSite, args ...string) (*pfProc, string) {
	t.Helper()
	site := filepath.Join(t.TempDir(), "site.hcl")
	writePfSite(t, site, s)
	return startPf(t, bin, site, true, append([]string{"run", site}, args...)...), site
}

// tryGet is a GET that reports instead of failing the test.
func tryGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func readyWorkers(st pfStatus) map[int]int {
	m := map[int]int{}
	for _, w := range st.Workers {
		if w.State == "ready" {
			m[w.ID] = w.PID
		}
	}
	return m
}

func TestPreforkWorkersShareAPort(t *testing.T) {
	bin := testutil.Binary(t, "")
	p, _ := pfStart(t, bin, pfSite{Processes: 2})

	// 200 requests, 8 at a time, each on a new connection: both workers
	// accept on the one port.
	ids := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for range 200 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			resp, err := client.Get("http://" + p.Addr + "/env")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := regexp.MustCompile(`wasmhost.worker_id: (\d+)`).FindSubmatch(b)
			if resp.StatusCode != 200 || m == nil {
				t.Errorf("GET /env: %d\n%s", resp.StatusCode, b)
				return
			}
			mu.Lock()
			ids[string(m[1])]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ids["0"] == 0 || ids["1"] == 0 || len(ids) != 2 {
		t.Errorf("answers by worker id: %v; want both 0 and 1", ids)
	}

	st := getStatus(t, p.Admin)
	if len(st.Workers) != 2 {
		t.Fatalf("/status lists %d workers, want 2: %+v", len(st.Workers), st.Workers)
	}
	pids := map[int]bool{st.Master.PID: true}
	for _, w := range st.Workers {
		if pids[w.PID] || w.State != "ready" {
			t.Errorf("worker %d: pid %d (state %s) is not distinct from the others and the master's", w.ID, w.PID, w.State)
		}
		pids[w.PID] = true
	}
	if len(st.Plugins) != 2 {
		t.Errorf("/status plugins: %+v, want environ and slow", st.Plugins)
	}

	metrics := get(t, "http://"+p.Admin+"/metrics")
	for _, want := range []string{`wasmhost_requests_total{worker="0",plugin="environ",status="200"}`,
		`wasmhost_requests_total{worker="1",plugin="environ",status="200"}`, "\nwasmhost_workers 2\n",
		`wasmhost_worker_restarts_total{worker="1"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if n := strings.Count(metrics, "# TYPE wasmhost_requests_total "); n != 1 {
		t.Errorf("/metrics declares wasmhost_requests_total %d times, want once", n)
	}
	for _, id := range []string{"0", "1"} {
		if !strings.Contains(p.logs.String(), "wasmhost.worker."+id+".access: GET /env") {
			t.Errorf("no access log line from worker %s", id)
		}
	}
	if n := strings.Count(p.logs.String(), "wasmhost: listening: addr="); n != 1 {
		t.Errorf("the listening line is logged %d times, want once", n)
	}

	// TTIN: one worker more; TTOU: one less, never below one.
	master := p.cmd.Process
	master.Signal(syscall.SIGTTIN)
	if !eventually(10*time.Second, func() bool { return len(readyWorkers(getStatus(t, p.Admin))) == 3 }) {
		t.Fatalf("after TTIN: workers %+v, want 3 ready", getStatus(t, p.Admin).Workers)
	}
	for range 3 {
		master.Signal(syscall.SIGTTOU)
		time.Sleep(100 * time.Millisecond)
	}
	if !eventually(10*time.Second, func() bool { return len(getStatus(t, p.Admin).Workers) == 1 }) {
		t.Fatalf("after 3 TTOU: workers %+v, want just worker 0", getStatus(t, p.Admin).Workers)
	}
	if w := readyWorkers(getStatus(t, p.Admin)); len(w) != 1 || w[0] == 0 {
		t.Errorf("after 3 TTOU: ready workers %v, want worker 0", w)
	}
	// TTIN, TTOU, TTIN in a row: worker 1 is asked for again while it is
	// still retiring, and must come back once it is gone.
	for _, sig := range []syscall.Signal{syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGTTIN} {
		master.Signal(sig)
		time.Sleep(5 * time.Millisecond)
	}
	if !eventually(10*time.Second, func() bool { return len(readyWorkers(getStatus(t, p.Admin))) == 2 }) {
		t.Errorf("after TTIN, TTOU, TTIN: workers %+v, want 2 ready", getStatus(t, p.Admin).Workers)
	}
}

func TestPreforkCrashLoopBacksOff(t *testing.T) {
	bin := testutil.Binary(t, "")
	plugin := filepath.Join(t.TempDir(), "environ.wasm")
	copyFile(t, testutil.Plugin(t, "plugins/examples/environ"), plugin)
	p, _ := pfStart(t, bin, pfSite{Processes: 2, Environ: plugin})

	// Worker 1 dies, and its replacements cannot load the plugin.
	var victim int
	if !eventually(30*time.Second, func() bool { victim = readyWorkers(getStatus(t, p.Admin))[1]; return victim > 0 }) {
		t.Fatal("worker 1 never became ready")
	}
	os.Remove(plugin)
	killPid(t, victim)
	// Wait for four deaths of worker 1 (the kill and three failed boots),
	// however long a loaded machine takes for them.
	// An entry and its indented continuation lines (hclog puts some
	// fields there).
	died := regexp.MustCompile(`worker died; replacing it: worker=1 [^\n]*(?:\n[ \t][^\n]*)*`)
	if !eventually(60*time.Second, func() bool { return len(died.FindAllString(p.logs.String(), -1)) >= 4 }) {
		t.Fatalf("worker 1 did not die and get replaced four times within 60s; log:\n%s", p.logs.String())
	}
	for range 20 {
		code, body, err := tryGet("http://" + p.Addr + "/env")
		if err != nil || code != 200 || !strings.Contains(body, "wasmhost.worker_id: 0\n") {
			t.Fatalf("while worker 1 crash-loops, worker 0 does not serve: %d %v", code, err)
		}
	}
	// Replaced at once, then after 250ms, 500ms, 1s: each delay doubles,
	// so a crash loop costs a few restarts, not dozens.
	var delays []string
	for _, line := range died.FindAllString(p.logs.String(), -1)[:4] {
		_, d, _ := strings.Cut(line, "restart_in=")
		d, _, _ = strings.Cut(strings.TrimSpace(d), "\n")
		d, _, _ = strings.Cut(d, " ")
		delays = append(delays, d)
	}
	if want := []string{"", "250ms", "500ms", "1s"}; !slices.Equal(delays, want) {
		t.Errorf("restart delays of worker 1: %q, want %q", delays, want)
	}

	// The cause fixed, the next attempt succeeds.
	copyFile(t, testutil.Plugin(t, "plugins/examples/environ"), plugin)
	if !eventually(10*time.Second, func() bool { return len(readyWorkers(getStatus(t, p.Admin))) == 2 }) {
		t.Errorf("worker 1 did not come back once its plugin was restored: %+v", getStatus(t, p.Admin).Workers)
	}
}

func TestPreforkKilledWorkerIsReplaced(t *testing.T) {
	bin := testutil.Binary(t, "")
	p, _ := pfStart(t, bin, pfSite{Processes: 2})
	load := startLoad("http://"+p.Addr+"/env", 16)
	time.Sleep(1500 * time.Millisecond)

	victim := readyWorkers(getStatus(t, p.Admin))[1]
	if victim == 0 {
		t.Fatal("no worker 1")
	}
	killPid(t, victim)
	killed := time.Now()
	var appeared, ready time.Duration
	eventually(10*time.Second, func() bool {
		for _, w := range getStatus(t, p.Admin).Workers {
			if w.ID == 1 && w.PID != victim {
				if appeared == 0 {
					appeared = time.Since(killed)
				}
				if w.State == "ready" {
					ready = time.Since(killed)
					return true
				}
			}
		}
		return false
	})
	t.Logf("replacement of worker 1: appeared after %v, ready after %v", appeared, ready)
	if appeared == 0 || appeared > time.Second {
		t.Errorf("a new worker 1 appeared after %v, want within 1s", appeared)
	}
	if ready == 0 {
		t.Error("the new worker 1 never became ready")
	}
	time.Sleep(3 * time.Second) // load on the replacement too
	ok, failed := load.finish(t)
	// Only requests on connections that worker 1 held at that moment may
	// fail: at most one per client connection.
	if failed > 16 || ok < 200 {
		t.Errorf("load: %d ok, %d failed; want at most 16 failures", ok, failed)
	}
	for _, w := range getStatus(t, p.Admin).Workers {
		if w.ID == 1 && w.Restarts != 1 {
			t.Errorf("worker 1 restarts = %d, want 1", w.Restarts)
		}
	}
	if !strings.Contains(p.logs.String(), "worker died; replacing it: worker=1") {
		t.Error("the death of worker 1 is not logged")
	}
}

func TestPreforkReload(t *testing.T) {
	bin := testutil.Binary(t, "")
	base := pfSite{Processes: 2}
	p, site := pfStart(t, bin, base)
	load := startLoad("http://"+p.Addr+"/env", 16)
	time.Sleep(time.Second)

	// A new plugin mounted at /env2, then HUP.
	served := mountEnv2(t, p, site, base)
	p.cmd.Process.Signal(syscall.SIGHUP)
	if !eventually(15*time.Second, served) {
		t.Fatal("after HUP, /env2 is not served by the new plugin")
	}
	if !eventually(15*time.Second, func() bool {
		st := getStatus(t, p.Admin)
		return st.Master.Generation == 2 && len(st.Workers) == 2 && st.Workers[0].Generation == 2 && st.Workers[1].Generation == 2
	}) {
		t.Errorf("after HUP: %+v, want 2 workers of generation 2 only", getStatus(t, p.Admin))
	}
	time.Sleep(500 * time.Millisecond)

	// A broken site.hcl: the diagnostics are logged, the old one serves.
	text, _ := os.ReadFile(site)
	os.WriteFile(site+".tmp", append(text, "bogus = 1\n"...), 0o644)
	os.Rename(site+".tmp", site)
	p.cmd.Process.Signal(syscall.SIGHUP)
	diag := regexp.MustCompile(`site\.hcl:\d+,\d+-\d+: Unsupported argument`)
	if !eventually(5*time.Second, func() bool { return diag.MatchString(p.logs.String()) }) {
		t.Error("no diagnostic for the broken site.hcl in the log")
	}
	time.Sleep(time.Second)
	if !served() {
		t.Error("after a HUP with a broken site.hcl, /env2 is no longer served")
	}
	if st := getStatus(t, p.Admin); st.Master.Generation != 2 || len(readyWorkers(st)) != 2 {
		t.Errorf("after a broken HUP: %+v, want generation 2 still serving", st)
	}
	if ok, failed := load.finish(t); failed != 0 || ok < 200 {
		t.Errorf("load across both reloads: %d ok, %d failed; want 0 failed", ok, failed)
	}
}

func TestPreforkUpgrade(t *testing.T) {
	const pkg = "-X github.com/wasmhost/wasmhost/internal/version.Version="
	oldBin, newBin := testutil.Binary(t, pkg+"v-old"), testutil.Binary(t, pkg+"v-new")
	for _, processes := range []int{2, 1} {
		t.Run(fmt.Sprintf("processes=%d", processes), func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "wasmhost")
			copyFile(t, oldBin, bin)
			p, _ := pfStart(t, bin, pfSite{Processes: processes})
			load := startLoad("http://"+p.Addr+"/env", 16)
			if !eventually(5*time.Second, func() bool { return load.saw("version v-old") }) {
				t.Fatal("v-old is not served")
			}
			time.Sleep(time.Second)

			// Replace the binary the way a package manager does, then USR2.
			copyFile(t, newBin, bin+".new")
			if err := os.Rename(bin+".new", bin); err != nil {
				t.Fatal(err)
			}
			p.cmd.Process.Signal(syscall.SIGUSR2)
			if !p.wait(30 * time.Second) {
				t.Fatal("the old master did not exit within 30s of USR2")
			}
			if p.err != nil {
				t.Errorf("the old master exited with %v, want 0", p.err)
			}
			load.mu.Lock()
			load.seen = map[string]bool{}
			load.mu.Unlock()
			time.Sleep(time.Second)
			if !load.saw("version v-new") || load.saw("version v-old") {
				t.Errorf("after the old master exited, versions seen: %v; want only v-new", load.seen)
			}
			if ok, failed := load.finish(t); failed != 0 || ok < 200 {
				t.Errorf("load across USR2: %d ok, %d failed; want 0 failed", ok, failed)
			}
			if processes > 1 {
				if st := getStatus(t, p.Admin); st.Master.Version != "v-new" || st.Master.PID == p.cmd.Process.Pid {
					t.Errorf("/status after USR2: master %+v, want the new one (v-new)", st.Master)
				}
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestPreforkTermFinishesRequests(t *testing.T) {
	bin := testutil.Binary(t, "")
	p, site := pfStart(t, bin, pfSite{Processes: 2, ShutdownTimeout: "10s"})
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, body, err := tryGet("http://" + p.Addr + "/slow?ms=3000")
		res <- result{code, body, err}
	}()
	if !eventually(5*time.Second, func() bool {
		for _, w := range getStatus(t, p.Admin).Workers {
			if w.InFlight > 0 {
				return true
			}
		}
		return false
	}) {
		t.Fatal("the slow request never showed in flight")
	}
	termAt := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	r := <-res
	if r.err != nil || r.code != 200 || r.body != "slept 3000\n" {
		t.Errorf("the request in flight at TERM: %d %q %v; want 200 slept 3000", r.code, r.body, r.err)
	}
	if !p.wait(10 * time.Second) {
		t.Fatal("not exited within shutdown_timeout (10s) of TERM")
	}
	t.Logf("exited %v after TERM", time.Since(termAt).Round(time.Millisecond))
	if p.err != nil {
		t.Errorf("exit: %v, want 0", p.err)
	}
	if left := noneLeft(site, 2*time.Second); len(left) > 0 {
		t.Errorf("processes left after TERM: %v", left)
	}
}

func TestPreforkBootFailureStopsTheMaster(t *testing.T) {
	bin := testutil.Binary(t, "")
	site := filepath.Join(t.TempDir(), "site.hcl")
	writePfSite(t, site, pfSite{Processes: 2, Missing: true})
	start := time.Now()
	p := startPf(t, bin, site, false, "run", site)
	if !p.wait(20 * time.Second) {
		t.Fatal("the master is still running 20s after a worker failed to boot")
	}
	t.Logf("exited %v after start: %v", time.Since(start).Round(time.Millisecond), p.err)
	if code := p.cmd.ProcessState.ExitCode(); code != exitUsage {
		t.Errorf("exit status %d, want %d (invalid config)", code, exitUsage)
	}
	time.Sleep(200 * time.Millisecond) // the rest of the log
	logs := p.logs.String()
	diag := regexp.MustCompile(`site\.hcl:\d+,\d+-\d+: plugin "missing" \(.*no/such/plugin\.wasm\)`)
	if n := len(diag.FindAllString(logs, -1)); n != 1 {
		t.Errorf("the plugin's diagnostic appears %d times, want once:\n%s", n, logs)
	}
	if strings.Contains(logs, "replacing it") || strings.Contains(logs, "listening: addr=") {
		t.Errorf("a boot failure must not loop nor listen:\n%s", logs)
	}
	if left := noneLeft(site, 2*time.Second); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
}

func TestPreforkNoOrphans(t *testing.T) {
	bin := testutil.Binary(t, "")
	p, site := pfStart(t, bin, pfSite{Processes: 2})
	if n := len(readyWorkers(getStatus(t, p.Admin))); n != 2 {
		t.Fatalf("%d workers ready, want 2", n)
	}
	p.cmd.Process.Kill() // no chance to stop its workers: they must notice
	if left := noneLeft(site, 5*time.Second); len(left) > 0 {
		t.Errorf("workers still running 5s after their master was killed: %v", left)
	}
}

func TestReusePortRunsIndependentCopies(t *testing.T) {
	bin := testutil.Binary(t, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := pfSite{Processes: 1, ReusePort: true, Listen: addr}
	a, _ := pfStart(t, bin, s)
	b, _ := pfStart(t, bin, s)
	if a.Addr != addr || b.Addr != addr {
		t.Fatalf("copies listen on %s and %s, want both on %s", a.Addr, b.Addr, addr)
	}
	load := startLoad("http://"+addr+"/env", 4)
	time.Sleep(500 * time.Millisecond)
	a.cmd.Process.Signal(syscall.SIGTERM)
	if !a.wait(10 * time.Second) {
		t.Fatal("the first copy did not stop")
	}
	time.Sleep(500 * time.Millisecond)
	if code, _, err := tryGet("http://" + addr + "/env"); err != nil || code != 200 {
		t.Errorf("after the first copy stopped, the second does not serve: %d %v", code, err)
	}
	ok, failed := load.finish(t)
	if ok < 50 {
		t.Errorf("load: %d ok, %d failed", ok, failed)
	}
}

func TestSocketActivation(t *testing.T) {
	bin := testutil.Binary(t, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(t.TempDir(), "site.hcl")
	writePfSite(t, site, pfSite{Processes: 2, Listen: "127.0.0.1:1"}) // not used: systemd's socket is
	// As systemd does: the socket as fd 3, LISTEN_PID set to the pid
	// that will read it (sh's, which exec keeps).
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=web exec "$0" "$@"`, bin, "run", site)
	cmd.ExtraFiles = []*os.File{f}
	p := startPfCmd(t, cmd, site, true)
	f.Close()
	l.Close()
	if p.Addr != l.Addr().String() {
		t.Errorf("listening on %s, want systemd's socket %s", p.Addr, l.Addr())
	}
	if code, body, err := tryGet("http://" + p.Addr + "/env"); err != nil || code != 200 || !strings.Contains(body, "wasmhost.worker_id: ") {
		t.Errorf("GET /env on the inherited socket: %d %v\n%s", code, err, body)
	}
	if !strings.Contains(p.logs.String(), "from=systemd") {
		t.Error("the log does not say the sockets came from systemd")
	}
}

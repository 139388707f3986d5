package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// These helpers run wasmhost process trees for real: a master, its
// workers, and after USR2 a second master. Every process of a tree has
// the test's site.hcl path on its command line, which is how a test finds
// them all, and how its cleanup kills whatever is left.

var (
	listenRE = regexp.MustCompile(`wasmhost: listening: addr=(\S+)`)
	adminRE  = regexp.MustCompile(`admin listening: addr=(\S+)`)
)

// pfSite is a test site.hcl: listeners on free loopback ports, an admin
// listener, and the plugins the tests need.
type pfSite struct {
	Processes       int
	ShutdownTimeout string
	ReusePort       bool
	Listen          string
	Extra           string // more blocks
	Missing         bool   // a plugin whose file does not exist
	Environ, Slow   string
}

var pfSiteTmpl = template.Must(template.New("site").Parse(`
server {
  listen           = ["{{or .Listen "127.0.0.1:0"}}"]
  processes        = {{.Processes}}
  reuse_port       = {{.ReusePort}}
  shutdown_timeout = "{{or .ShutdownTimeout "10s"}}"
}
admin {
  listen = "127.0.0.1:0"
}
plugin "environ" {
  path  = "{{.Environ}}"
  mount = "/env"
}
plugin "slow" {
  path  = "{{.Slow}}"
  mount = "/slow"
}
{{if .Missing}}plugin "missing" {
  path  = "no/such/plugin.wasm"
  mount = "/missing"
}
{{end}}{{.Extra}}
`))

// writePfSite writes the site to path (creating it or replacing it).
func writePfSite(t *testing.T, path string, s pfSite) {
	t.Helper()
	if s.Environ == "" {
		s.Environ = testutil.Plugin(t, "plugins/examples/environ")
	}
	s.Slow = testutil.Plugin(t, "plugins/testplugins/slow")
	var b strings.Builder
	if err := pfSiteTmpl.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	// Replace atomically: a reload must never read half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// pfProc is a wasmhost process tree.
type pfProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	marker string
	logs   *testutil.LockedBuffer
	Addr   string // the HTTP listener
	Admin  string // the admin listener
	done   chan struct{}
	err    error

	watchMu sync.Mutex
	watches []lineWatch
}

// lineWatch is a wait for a log line containing text.
type lineWatch struct {
	text string
	seen chan string
}

// onLine returns a channel that gets the first log line containing text
// (from now on) as soon as the scanner reads it: a test that must act
// right after a line is written cannot poll the whole log.
func (p *pfProc) onLine(text string) <-chan string {
	w := lineWatch{text, make(chan string, 1)}
	p.watchMu.Lock()
	p.watches = append(p.watches, w)
	p.watchMu.Unlock()
	return w.seen
}

func (p *pfProc) noteLine(line string) {
	p.watchMu.Lock()
	defer p.watchMu.Unlock()
	kept := p.watches[:0]
	for _, w := range p.watches {
		if strings.Contains(line, w.text) {
			w.seen <- line
		} else {
			kept = append(kept, w)
		}
	}
	p.watches = kept
}

// startPf starts bin with args and, unless wait is false, waits until it
// logs its listening address. Its stderr is a pipe file, not a Go writer,
// so that waiting for the first master does not wait for the processes
// that inherited the pipe from it (workers, a new master).
func startPf(t *testing.T, bin, marker string, wait bool, args ...string) *pfProc {
	t.Helper()
	return startPfCmd(t, exec.Command(bin, args...), marker, wait)
}

func startPfCmd(t *testing.T, cmd *exec.Cmd, marker string, wait bool) *pfProc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Dir = testutil.Root()
	cmd.Stderr, cmd.Stdout = w, w
	p := &pfProc{t: t, cmd: cmd, marker: marker, logs: &testutil.LockedBuffer{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		for _, pid := range pidsWith(marker) {
			killPid(t, pid)
		}
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("wasmhost log, without access lines:\n%s", withoutAccess(p.logs.String()))
		}
	})
	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var admin string
		for sc.Scan() {
			line := sc.Text()
			p.noteLine(line)
			p.logs.Write([]byte(line + "\n"))
			if m := adminRE.FindStringSubmatch(line); m != nil && admin == "" {
				admin = m[1]
			}
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addrs <- [2]string{m[1], admin}:
				default:
				}
			}
		}
		r.Close()
	}()
	if !wait {
		return p
	}
	select {
	case a := <-addrs:
		p.Addr, p.Admin = a[0], a[1]
	case <-p.done:
		t.Fatalf("wasmhost exited before listening (%v); log:\n%s", p.err, p.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("wasmhost did not start listening within 60s; log:\n%s", p.logs.String())
	}
	return p
}

// withoutAccess drops access log lines, which drown the others under load.
func withoutAccess(log string) string {
	var b strings.Builder
	n := 0
	for _, line := range strings.SplitAfter(log, "\n") {
		if strings.Contains(line, ".access: ") {
			n++
			continue
		}
		b.WriteString(line)
	}
	fmt.Fprintf(&b, "(and %d access log lines)\n", n)
	return b.String()
}

// wait waits up to d for the first process to exit; false on timeout.
func (p *pfProc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// pidsWith lists live processes whose command line contains marker.
// Zombies have an empty command line and are not listed.
// killPid sends SIGKILL to one process. It refuses pid 0 and below, which
// kill(2) reads as "the whole process group": the test run itself.
func killPid(t *testing.T, pid int) {
	if pid <= 1 {
		t.Errorf("refusing to kill pid %d", pid)
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

func pidsWith(marker string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// noneLeft waits up to d for every process of the tree to be gone.
func noneLeft(marker string, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		pids := pidsWith(marker)
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pfStatus is the part of the master's /status the tests read.
type pfStatus struct {
	Master struct {
		PID        int    `json:"pid"`
		Version    string `json:"version"`
		Generation int    `json:"generation"`
	} `json:"master"`
	Workers []struct {
		ID         int    `json:"id"`
		PID        int    `json:"pid"`
		Requests   uint64 `json:"requests"`
		InFlight   int64  `json:"in_flight"`
		Restarts   int    `json:"restarts"`
		Generation int    `json:"generation"`
		State      string `json:"state"`
	} `json:"workers"`
	Plugins []struct {
		Name string `json:"name"`
	} `json:"plugins"`
}

func getStatus(t *testing.T, admin string) pfStatus {
	t.Helper()
	var st pfStatus
	if err := json.Unmarshal([]byte(get(t, "http://"+admin+"/status")), &st); err != nil {
		t.Fatalf("/status: %v", err)
	}
	return st
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

// eventually polls f every 50ms until it is true or d passes.
func eventually(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// loadGen is a bounded load: conns clients sending GETs with a short
// pause, counting every non-200 answer and transport error as a failure.
// Half the clients keep one connection alive; Go's http.Client retries an
// idempotent request that a reused connection lost before any answer
// came, as browsers and proxies do. The other half open a connection per
// request, with no retry at all: they are what shows that no connection
// is refused, or accepted and then dropped, while processes come and go.
type loadGen struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup

	mu   sync.Mutex
	errs []string
	seen map[string]bool // "version v", "worker n" seen in /env answers
}

func startLoad(url string, conns int) *loadGen {
	l := &loadGen{stop: make(chan struct{}), seen: map[string]bool{}}
	for i := range conns {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			// A new connection per request costs a TIME_WAIT socket:
			// fewer of those, to spare loopback's ephemeral ports.
			fresh, pause := i%2 == 1, 5*time.Millisecond
			if fresh {
				pause = 20 * time.Millisecond
			}
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableKeepAlives: fresh}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				case <-time.After(pause):
				}
				l.one(c, url)
			}
		}()
	}
	return l
}

func (l *loadGen) one(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
		}
		if err == nil {
			l.ok.Add(1)
			l.note(string(b))
			return
		}
	}
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.errs) < 20 {
		l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
	}
	l.mu.Unlock()
}

func (l *loadGen) note(body string) {
	var keys []string
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "wasmhost.version: "); ok {
			keys = append(keys, "version "+v)
		} else if v, ok := strings.CutPrefix(line, "wasmhost.worker_id: "); ok {
			keys = append(keys, "worker "+v)
		}
	}
	l.mu.Lock()
	for _, k := range keys {
		l.seen[k] = true
	}
	l.mu.Unlock()
}

func (l *loadGen) saw(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[key]
}

// finish stops the load and reports it.
func (l *loadGen) finish(t *testing.T) (ok, failed int64) {
	close(l.stop)
	l.wg.Wait()
	ok, failed = l.ok.Load(), l.failed.Load()
	t.Logf("load: %d ok, %d failed %v", ok, failed, l.errs)
	return ok, failed
}

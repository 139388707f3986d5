package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// freshProbeScript sends GETs of a path from 8 threads, each on a new
// connection, from its start until it reads a line on stdin and then n
// more in all, and prints them as JSON: when each connection was opened
// (Unix seconds), whether it got the new mount's answer (200 and the
// mount in SCRIPT_NAME), and what it got otherwise. Python's http.client,
// not Go's: no connection reuse, no retry, nothing shared with the
// server's code.
const freshProbeScript = `
import http.client, json, sys, threading, time
host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
want = ("SCRIPT_NAME: " + path.rsplit("/", 1)[0] + "\n").encode()
marked, lock, recs = threading.Event(), threading.Lock(), []
def run():
    left = n // 8
    while left > 0:
        counted = marked.is_set()
        if counted:
            left -= 1
        t0 = time.time()
        try:
            c = http.client.HTTPConnection(host, port, timeout=20)
            c.request("GET", path, headers={"Connection": "close"})
            r = c.getresponse()
            body = r.read()
            c.close()
            good, what = r.status == 200 and want in body, "%d %r" % (r.status, body[:40])
        except Exception as e:
            good, what = False, repr(e)
        with lock:
            recs.append([t0, good, "" if good else what, counted])
ts = [threading.Thread(target=run) for _ in range(8)]
for t in ts: t.start()
sys.stdin.readline()
marked.set()
for t in ts: t.join()
print(json.dumps(recs), flush=True)
`

// freshProbe is a running freshProbeScript.
type freshProbe struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out io.Reader
}

func startFreshProbe(t *testing.T, addr, path string, n int) *freshProbe {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd, in, out := startPiped(t, testutil.Need(t, "python3"), freshProbeScript, host, port, path, strconv.Itoa(n))
	return &freshProbe{cmd: cmd, in: in, out: out}
}

// startPiped runs a Python script with its stdin and stdout piped to the
// test (stderr goes to the test's), killed when the test ends.
func startPiped(t *testing.T, python, script string, args ...string) (*exec.Cmd, io.WriteCloser, io.Reader) {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, in, out
}

// after tells the probe to finish, and reports the connections it opened
// after since: how many got the new site, and the first few that did not.
func (pr *freshProbe) after(t *testing.T, since time.Time) (ok int, bad []string) {
	t.Helper()
	io.WriteString(pr.in, "go\n")
	var recs [][4]any
	if err := json.NewDecoder(bufio.NewReader(pr.out)).Decode(&recs); err != nil {
		t.Fatalf("probe output: %v", err)
	}
	pr.cmd.Wait()
	cut := float64(since.UnixNano()) / 1e9
	for _, r := range recs {
		// A connection opened once the probe was told to finish came
		// after the line; others count when their start is past the
		// line's (millisecond) timestamp.
		at, _ := r[0].(float64)
		if counted, _ := r[3].(bool); !counted && at <= cut {
			continue
		}
		if good, _ := r[1].(bool); good {
			ok++
		} else if len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("+%.1fms: %v", (at-cut)*1000, r[2]))
		}
	}
	return ok, bad
}

// lineTime is when the master wrote a log line, from its timestamp
// (hclog's, in milliseconds, truncated: the line was written after the
// returned time).
func lineTime(t *testing.T, line string) time.Time {
	t.Helper()
	stamp, _, _ := strings.Cut(line, " ")
	at, err := time.Parse("2006-01-02T15:04:05.000Z0700", stamp)
	if err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	return at.Add(time.Millisecond)
}

// hupAndWaitSwitch mounts the environ plugin at mount, sends HUP and
// returns the master's "reloaded" line.
func hupAndWaitSwitch(t *testing.T, p *pfProc, site string, base pfSite, mount string) string {
	t.Helper()
	grown := base
	grown.Extra = fmt.Sprintf("plugin \"new\" {\n  path  = %q\n  mount = %q\n}\n", testutil.Plugin(t, "plugins/examples/environ"), mount)
	writePfSite(t, site, grown)
	switched := p.onLine("reloaded: new workers are serving")
	p.cmd.Process.Signal(syscall.SIGHUP)
	select {
	case line := <-switched:
		return line
	case <-time.After(30 * time.Second):
		t.Fatalf("HUP mounting %s: no switch logged within 30s", mount)
		return ""
	}
}

// TestReloadIsLoggedOnceOldWorkersStoppedAccepting: the master's
// "reloaded: new workers are serving" must be true when it is written:
// no old worker can accept a connection any more.
//
// First, with two workers under a load of 8 clients, HUPs that mount a
// new plugin: every fresh connection opened after the line gets the new
// site, none an old worker's 404. Before the fix the old workers were
// sent SIGTERM only after the line, a window of milliseconds (up to
// 20 ms seen under load), so the fresh connections are already being
// opened, from 8 threads, when the line is written.
//
// Then an old worker that cannot answer (stopped with SIGSTOP, as a
// debugger or a swap storm does) still holds the listening socket and
// would take connections for the old site once it runs again: the line
// must wait until it is killed, and no old worker may hold the socket
// when it appears.
func TestReloadIsLoggedOnceOldWorkersStoppedAccepting(t *testing.T) {
	bin := testutil.Binary(t, "")
	base := pfSite{Processes: 2}
	p, site := pfStart(t, bin, base)
	inode := listeningInode(t, p.Addr)

	load := startLoad("http://"+p.Addr+"/env", 8)
	const probes = 200
	for r := range 2 {
		mount := fmt.Sprintf("/new%d", r)
		pr := startFreshProbe(t, p.Addr, mount+"/x", probes)
		line := hupAndWaitSwitch(t, p, site, base, mount)
		if ok, bad := pr.after(t, lineTime(t, line)); ok < probes || len(bad) > 0 {
			t.Fatalf("reload %d: after the master logged the switch, %d fresh connections got the new site and others did not: %q", r, ok, bad)
		}
	}
	if ok, failed := load.finish(t); failed != 0 {
		t.Errorf("load across the reloads: %d ok, %d failed; want 0 failed", ok, failed)
	}

	old := readyWorkers(getStatus(t, p.Admin))
	if len(old) != 2 {
		t.Fatalf("ready workers %v, want 2", old)
	}
	for id, pid := range old {
		if !holdsSocket(pid, inode) {
			t.Fatalf("worker %d (pid %d) holds no descriptor of the listening socket %s before the reload", id, pid, inode)
		}
	}
	wedged := old[1]
	syscall.Kill(wedged, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(wedged, syscall.SIGCONT) })
	line := hupAndWaitSwitch(t, p, site, base, "/wedged")
	for id, pid := range old {
		if holdsSocket(pid, inode) {
			t.Errorf("the master logged the switch while old worker %d (pid %d) still held the listening socket", id, pid)
		}
	}
	syscall.Kill(wedged, syscall.SIGCONT) // with the bug, it accepts again
	pr := startFreshProbe(t, p.Addr, "/wedged/x", probes)
	if ok, bad := pr.after(t, lineTime(t, line)); ok < probes || len(bad) > 0 {
		t.Errorf("after the switch past a wedged worker, %d fresh connections got the new site and others did not: %q", ok, bad)
	}
	if !strings.Contains(p.logs.String(), "did not confirm in time that it stopped accepting") {
		t.Error("no warning about the wedged worker in the log")
	}
}

// listeningInode is the inode of the listening TCP socket of addr's port.
func listeningInode(t *testing.T, addr string) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[1], fmt.Sprintf(":%04X", n)) && f[3] == "0A" {
			return f[9]
		}
	}
	t.Fatalf("no listening socket on port %d in /proc/net/tcp", n)
	return ""
}

// holdsSocket says whether process pid has a descriptor of the socket.
func holdsSocket(pid int, inode string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, _ := os.ReadDir(dir)
	for _, fd := range fds {
		if l, _ := os.Readlink(dir + "/" + fd.Name()); l == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}

// TestCheckRefusesEnvThatShadowsTheEnviron: a plugin's env entries come
// after the request's own in its environ, so a name the host sets there
// would replace it for the guest (a fixed REMOTE_ADDR, a forged header).
// check refuses each such name with its position; others pass.
func TestCheckRefusesEnvThatShadowsTheEnviron(t *testing.T) {
	site := fmt.Sprintf(`plugin "env" {
  path = %q
  env  = {
    GREETING          = "hi"
    REMOTE_ADDR       = "10.0.0.1"
    SCRIPT_NAME       = "/admin"
    HTTP_X_USER       = "admin"
    HTTP_PROXY        = "http://evil:3128"
    "wasmhost.plugin" = "other"
    HTTPS             = "on"
  }
}
`, testutil.Plugin(t, "plugins/examples/environ"))
	code, _, errOut := runCLI("check", writeSite(t, site))
	if code != exitUsage {
		t.Fatalf("check: exit %d, want 2; stderr:\n%s", code, errOut)
	}
	for _, want := range []struct{ key, at string }{
		{"REMOTE_ADDR", "5,5-16"}, {"SCRIPT_NAME", "6,5-16"}, {"HTTP_X_USER", "7,5-16"},
		{"HTTP_PROXY", "8,5-15"}, {"wasmhost.plugin", "9,5-22"},
	} {
		re := regexp.MustCompile(`site\.hcl:` + regexp.QuoteMeta(want.at) + `: Invalid environment variable name; plugin "env" env: "` +
			regexp.QuoteMeta(want.key) + `" is set by the host in every request's environ`)
		if !re.MatchString(errOut) {
			t.Errorf("no diagnostic for %s at %s; stderr:\n%s", want.key, want.at, errOut)
		}
	}
	for _, fine := range []string{"GREETING", "HTTPS"} {
		if strings.Contains(errOut, `"`+fine+`"`) {
			t.Errorf("%s is refused too; stderr:\n%s", fine, errOut)
		}
	}
	if n := strings.Count(errOut, "is set by the host"); n != 5 {
		t.Errorf("%d names refused, want 5; stderr:\n%s", n, errOut)
	}
}

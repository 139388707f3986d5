package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// TestBigPluginSwapKeepsTheOldVersionUntilCompiled: a hot swap to a module
// too big to serve interpreted (past loader.InterpretBelow) is announced,
// its compilation is logged from start to end with the module's size, and
// the old version answers every request until the new one is compiled: no
// request fails, none is served by the interpreter, and no old answer comes
// after the first new one. The module is made big with a custom section,
// which the engines skip, so the test costs a small module's compile.
func TestBigPluginSwapKeepsTheOldVersionUntilCompiled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasmhost and two plugins, runs a server")
	}
	python := lookPython(t)
	bin := testutil.Binary(t, "")
	v1 := testutil.PluginVariant(t, "plugins/testplugins/version", "-X main.version=one")
	v2 := testutil.PluginVariant(t, "plugins/testplugins/version", "-X main.version=two")
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache")) // nothing compiled yet
	live := filepath.Join(dir, "live.wasm")
	testutil.CopyFile(t, v1, live)
	site := filepath.Join(dir, "site.hcl")
	writeText(t, site, fmt.Sprintf("server { listen = [\"127.0.0.1:0\"] }\nplugin \"v\" {\n  path  = %q\n  mount = \"/v\"\n}\n", live))
	p := testutil.StartWasmhost(t, bin, "run", site)

	poll := startPoller(t, python, p.Addr, "/v")
	time.Sleep(300 * time.Millisecond) // some answers from the old version first
	big := padWasm(t, v2, 17_000_000)
	tmp := live + ".new"
	if err := os.WriteFile(tmp, big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, live); err != nil {
		t.Fatal(err)
	}
	compiled := regexp.MustCompile(`wasmhost\.loader\.v: compiled: engine=\S+ module_size="?(1[7-9]\.\d) MB`)
	var line string
	if !eventually(90*time.Second, func() bool {
		line = compiled.FindString(p.Logs.String())
		return line != ""
	}) {
		t.Fatalf("no compile of the 17 MB version logged within 90 s; log:\n%s", p.Logs.String())
	}
	var compiledAt time.Time
	for _, l := range strings.Split(p.Logs.String(), "\n") {
		if strings.Contains(l, line) {
			compiledAt = lineTime(t, l)
		}
	}
	time.Sleep(time.Second) // answers from the new version
	recs := poll.finish(t)

	logs := p.Logs.String()
	for _, want := range []string{
		"new version is too big to serve interpreted while it compiles; the old version serves until it is compiled",
		`wasmhost.loader.v: compiling to machine code: engine=wazero module_size="17.0 MB"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "serving interpreted while it compiles") {
		t.Errorf("the big version was served interpreted:\n%s", logs)
	}
	checkBigSwapAnswers(t, recs, compiledAt)
}

// checkBigSwapAnswers: every answer is one of the two versions, the new one
// only once it was compiled, and never the old one after the new.
func checkBigSwapAnswers(t *testing.T, recs []pollRecord, compiledAt time.Time) {
	t.Helper()
	var olds, news int
	for _, r := range recs {
		switch {
		case r.Status != 200:
			t.Errorf("a request during the swap got %d %q", r.Status, r.Body)
		case strings.HasPrefix(r.Body, "version one "):
			if news > 0 {
				t.Errorf("the old version answered after the new one had")
			}
			olds++
		case strings.HasPrefix(r.Body, "version two "):
			if end := time.Unix(0, int64(r.End*1e9)); end.Before(compiledAt.Add(-time.Millisecond)) {
				t.Errorf("the new version answered %v before its compile was logged as done: it was not compiled", compiledAt.Sub(end))
			}
			news++
		default:
			t.Errorf("an answer from neither version: %q", r.Body)
		}
	}
	t.Logf("%d answers from the old version, %d from the new", olds, news)
	if olds == 0 || news == 0 {
		t.Errorf("want answers from both versions, got %d old and %d new", olds, news)
	}
}

// padWasm appends a custom section of about n bytes to a module: a valid
// module of that size whose code is the original's.
func padWasm(t *testing.T, path string, n int) []byte {
	t.Helper()
	code, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := "wasmhost.test.padding"
	payload := binary.AppendUvarint([]byte{}, uint64(len(name)))
	payload = append(payload, name...)
	payload = append(payload, make([]byte, n-len(code))...)
	code = append(code, 0) // custom section id
	code = binary.AppendUvarint(code, uint64(len(payload)))
	return append(code, payload...)
}

// pollRecord is one request of the poller: when it started and ended (Unix
// seconds), its status and the first line of its body.
type pollRecord struct {
	Start, End float64
	Status     int
	Body       string
}

// pollScript requests a path on a fresh connection after another (as a
// browser reloading a page does) until a line arrives on stdin, then
// prints its records as JSON.
const pollScript = `
import http.client, json, sys, threading, time
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stop, recs = threading.Event(), []
def run():
    while not stop.is_set():
        t0 = time.time()
        try:
            c = http.client.HTTPConnection(host, port, timeout=20)
            c.request("GET", path)
            r = c.getresponse()
            body = r.read().decode(errors="replace").split("\n")[0]
            status = r.status
            c.close()
        except Exception as e:
            status, body = 0, repr(e)
        recs.append({"Start": t0, "End": time.time(), "Status": status, "Body": body})
        time.sleep(0.005)
th = threading.Thread(target=run)
th.start()
sys.stdin.readline()
stop.set()
th.join()
print(json.dumps(recs), flush=True)
`

type poller struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out io.Reader
}

func startPoller(t *testing.T, python, addr, path string) *poller {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd, in, out := startPiped(t, python, pollScript, host, port, path)
	return &poller{cmd: cmd, in: in, out: out}
}

func (p *poller) finish(t *testing.T) []pollRecord {
	t.Helper()
	io.WriteString(p.in, "stop\n")
	var recs []pollRecord
	if err := json.NewDecoder(bufio.NewReader(p.out)).Decode(&recs); err != nil {
		t.Fatalf("poller output: %v", err)
	}
	p.cmd.Wait()
	return recs
}

package host_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader"
)

func init() {
	plugins["gone"] = "plugins/testplugins/gone"
}

// leaveScript is a client that goes away in the middle of its answers, as
// a browser tab closed mid-stream does: each client sends its request
// (a GET, or for a path starting "POST " a chunked body of random pieces),
// reads a little of the answer and closes, half of the time with a reset
// (SO_LINGER 0); half of the bodies are cut off before their end, the
// others complete (with seconds 0, a body of 90,000 bytes is left open and
// the answer read from the first piece the handler echoes). Arguments: host port seconds clients path...; with
// seconds 0, each path once, one after the other, reading the head and
// the first piece of the body. It prints how many clients left and how many connections
// failed outright.
const leaveScript = `
import random, socket, struct, sys, threading, time
host, port, seconds, clients = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
paths = sys.argv[5:]
left, failed, lock = [0], [0], threading.Lock()

def one(path, want, reset):
    body = path.startswith("POST ")
    if body:
        path = path[5:]
    s = socket.create_connection((host, port), timeout=10)
    try:
        if body:
            s.sendall(("POST %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" % path).encode())
            # With seconds 0 the body left open passes the default
            # body_read_ahead (64 KiB), so the guest is called.
            sizes = [30000] * 3 if seconds == 0 else [random.randint(1, 40000) for _ in range(random.randint(1, 4))]
            for size in sizes:
                chunk = b"x" * size
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            if seconds > 0 and random.random() < 0.5:
                return  # gone in the middle of its body
            if seconds > 0:
                s.sendall(b"0\r\n\r\n")
        else:
            s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode())
        got = b""
        while want == 0 or len(got) < want:
            b = s.recv(4096 if want == 0 else min(4096, want - len(got)))
            if not b:
                break
            got += b
            if want == 0 and b"\r\n\r\n" in got and not got.endswith(b"\r\n\r\n"):
                break
    finally:
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

def loop():
    end = time.time() + seconds
    while time.time() < end:
        try:
            one(random.choice(paths), random.randint(1, 3000), random.random() < 0.5)
            with lock:
                left[0] += 1
        except OSError:
            with lock:
                failed[0] += 1

if seconds == 0:
    for p in paths:
        one(p, 0, False)
        left[0] += 1
else:
    ts = [threading.Thread(target=loop) for _ in range(clients)]
    for t in ts: t.start()
    for t in ts: t.join()
print(left[0], failed[0])
`

// leave runs leaveScript against the site.
func leave(t *testing.T, s *site, seconds float64, clients int, paths ...string) (left, failed int) {
	t.Helper()
	py := testutil.Need(t, "python3")
	hostport := strings.TrimPrefix(s.base, "http://")
	h, p, _ := strings.Cut(hostport, ":")
	args := append([]string{"-c", leaveScript, h, p, strconv.FormatFloat(seconds, 'f', -1, 64), strconv.Itoa(clients)}, paths...)
	out, err := exec.Command(py, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, out)
	}
	if _, err := fmt.Sscan(string(out), &left, &failed); err != nil {
		t.Fatalf("python client printed %q", out)
	}
	return left, failed
}

// waitFor polls cond for up to 10 s.
func waitFor(cond func() bool) bool {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// recorded waits for a gone plugin's record to say its defer ran.
func recorded(t *testing.T, dir, name string) string {
	t.Helper()
	var text string
	waitFor(func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		text = string(b)
		return strings.Contains(text, "defer=ran")
	})
	return strings.TrimSpace(text)
}

// errorLines are the server log's ERROR entries and panics.
func errorLines(logs string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "[ERROR]") || strings.Contains(l, "panic") || strings.Contains(l, "fatal error") {
			out = append(out, l)
		}
	}
	return out
}

func goneSite(t *testing.T, engine, rec string) *site {
	grant := `dirs = { "/rec" = "` + rec + `:rw" }`
	return startEngineSite(t, engine, `
plugin "gone" {
  path    = "{{gone}}"
  mount   = "/gone"
  timeout = "60s"
  `+grant+`
}
plugin "mwa" {
  path = "{{gone}}"
  env  = { NAME = "mwa" }
  `+grant+`
}
plugin "mwb" {
  path = "{{gone}}"
  env  = { NAME = "mwb" }
  `+grant+`
}
plugin "chained" {
  path       = "{{gone}}"
  mount      = "/chain"
  timeout    = "60s"
  middleware = ["mwa", "mwb"]
  `+grant+`
}`)
}

// TestClientGoneIsACancellation: a client that leaves mid-stream is a
// cancellation the guest takes part in, with or without middleware: its
// next write returns ErrClientGone, its request context is done, its
// defers run, its instance stays in the pool, and the host logs and
// counts a cancellation, not a failure. A guest that makes no host call
// is stopped once its grace is over.
func TestClientGoneIsACancellation(t *testing.T) { forEachEngine(t, testClientGoneIsACancellation) }

func testClientGoneIsACancellation(t *testing.T, engine string) {
	rec := t.TempDir()
	s := goneSite(t, engine, rec)
	leave(t, s, 0, 1, "/gone?id=plain", "/chain?id=chain", "POST /chain?mode=echo&id=echo")

	want := "write=true done=true err=context canceled defer=ran"
	for _, id := range []string{"plain", "chain", "echo"} {
		if got := recorded(t, rec, id); got != want {
			t.Errorf("%s: the handler recorded %q, want %q", id, got, want)
		}
	}
	wantMw := "next=returned done=true err=context canceled write=true defer=ran"
	for _, id := range []string{"chain.mwa", "chain.mwb", "echo.mwa", "echo.mwb"} {
		if got := recorded(t, rec, id); got != wantMw {
			t.Errorf("middleware %s recorded %q, want %q", id, got, wantMw)
		}
	}
	for _, name := range []string{"gone", "chained", "mwa", "mwb"} {
		st := s.srv.Plugin(name).Stats()
		wantCanceled := int64(2)
		if name == "gone" {
			wantCanceled = 1
		}
		if st.Canceled != wantCanceled || st.Traps != 0 || st.Discarded != 0 || st.Busy != 0 {
			t.Errorf("%s after its clients left: %+v; want %d cancelled, no trap, none discarded", name, st, wantCanceled)
		}
	}

	// A guest that never calls the host cannot learn it: it is stopped
	// when its grace is over, and that is a cancellation too.
	leave(t, s, 0, 1, "/gone?mode=block&id=block")
	left := time.Now()
	if !waitFor(func() bool { return s.srv.Plugin("gone").Stats().Canceled == 2 }) {
		t.Fatalf("a blocked guest still runs 10 s after its client left: %+v", s.srv.Plugin("gone").Stats())
	}
	t.Logf("a guest making no host call was stopped %v after its client left (grace %v)", time.Since(left), loader.CancelGrace)
	st := s.srv.Plugin("gone").Stats()
	if st.Discarded != 1 || st.Traps != 0 {
		t.Errorf("a blocked guest stopped after its grace: %+v; want it discarded, not a trap", st)
	}
	if _, err := os.Stat(filepath.Join(rec, "block")); err == nil {
		t.Errorf("a guest stopped mid-loop recorded something: its defers ran")
	}
	if bad := errorLines(s.logs.String()); len(bad) > 0 {
		t.Errorf("clients leaving logged errors:\n%s", strings.Join(bad, "\n"))
	}
	if n := strings.Count(s.logs.String(), "request cancelled"); n < 3 {
		t.Errorf("the log has %d cancellations, want one per request whose client left", n)
	}
	if !regexp.MustCompile(`status=499`).MatchString(s.logs.String()) {
		t.Errorf("no access log line with status 499")
	}
}

// TestClientsLeaveMidStream is the red-team run: many clients leaving in
// the middle of streams and echoes through three-link chains, for 5 s,
// and for 10 s under -race (make test). Nothing may panic, trap, log an error
// or lose an instance.
func TestClientsLeaveMidStream(t *testing.T) {
	s := startSite(t, `server { max_body_size = "16MB" }`+twoMiddleware+`
plugin "stream" {
  path       = "{{stream}}"
  mount      = "/stream"
  middleware = ["mw1", "mw2"]
}
plugin "echo" {
  path       = "{{echo}}"
  mount      = "/echo"
  middleware = ["mw1", "mw2"]
}
plugin "hello" { path = "{{hello}}" }`)
	seconds := 5.0
	if raceEnabled {
		seconds = 10 // make test runs host again under the race detector: give it the long run
	}
	left, failed := leave(t, s, seconds, 8, "/stream?n=1000&delay=2", "/stream?n=1000&delay=0", "POST /echo", "POST /echo?upper=mw2")
	t.Logf("%d clients left mid-answer, %d connections failed", left, failed)
	if left < 50 {
		t.Errorf("only %d clients in %v s", left, seconds)
	}
	// The last ones' guests finish within their grace.
	waitFor(func() bool {
		for _, n := range []string{"stream", "echo", "mw1", "mw2"} {
			if s.srv.Plugin(n).Stats().Busy != 0 {
				return false
			}
		}
		return true
	})
	var canceled int64
	for _, n := range []string{"stream", "echo", "mw1", "mw2"} {
		st := s.srv.Plugin(n).Stats()
		canceled += st.Canceled
		if st.Traps != 0 || st.Discarded != 0 || st.Busy != 0 {
			t.Errorf("%s: %+v; want no trap, no instance discarded, none busy", n, st)
		}
	}
	if canceled == 0 {
		t.Errorf("no request was counted as a cancellation")
	}
	if bad := errorLines(s.logs.String()); len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], "...")
		}
		t.Errorf("%d error lines, e.g.:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	resp, err := http.Get(s.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after the run: %d %q", resp.StatusCode, b)
	}
	t.Logf("cancellations: %d", canceled)
}

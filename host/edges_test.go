package host_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

func init() { plugins["redirects"] = "plugins/testplugins/redirects" }

// curlResult is one response as curl saw it.
type curlResult struct {
	status  int
	header  http.Header
	body    string
	elapsed time.Duration
}

// curl fetches url with curl (a client that is not Go's), bounded by
// --max-time, and parses the status line and headers it prints.
func curl(t *testing.T, url string, args ...string) curlResult {
	t.Helper()
	bin := testutil.Need(t, "curl")
	start := time.Now()
	out, err := exec.Command(bin, append([]string{"-sS", "-i", "--max-time", "30", url}, args...)...).Output()
	res := curlResult{elapsed: time.Since(start), header: http.Header{}}
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	// With -L curl prints each response's head: the last one counts.
	rest := string(out)
	for {
		head, body, _ := strings.Cut(rest, "\r\n\r\n")
		res.body, res.header = body, http.Header{}
		lines := strings.Split(head, "\r\n")
		if _, err := fmt.Sscanf(lines[0], "HTTP/%s %d", new(string), &res.status); err != nil {
			t.Fatalf("curl %s: status line %q", url, lines[0])
		}
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, ":"); ok {
				res.header.Add(k, strings.TrimSpace(v))
			}
		}
		if res.status/100 != 3 || !strings.HasPrefix(body, "HTTP/") {
			break
		}
		rest = body
	}
	return res
}

func kvSite(t *testing.T, decl string) *site {
	return startSite(t, decl+`
plugin "services" {
  path    = "{{services}}"
  kv      = ["default"]
  timeout = "10s"
}`)
}

// GetMany returns the keys present, in one host call and one store
// operation, on both backends.
func TestKVGetMany(t *testing.T) {
	for backend, decl := range map[string]string{
		"sqlite": fmt.Sprintf(`kv "default" { path = %q }`, filepath.Join(t.TempDir(), "m.kv")),
		"redis":  fmt.Sprintf("kv \"default\" {\n  backend = \"redis\"\n  url = %q\n}", testutil.Redis(t)),
	} {
		t.Run(backend, func(t *testing.T) {
			s := kvSite(t, decl)
			for _, kv := range []string{"a=1", "b=two", "c="} {
				k, v, _ := strings.Cut(kv, "=")
				if r := curl(t, s.base+"/kv/set?key="+k+"&value="+v); r.status != 200 {
					t.Fatalf("set %s: %d %q", k, r.status, r.body)
				}
			}
			r := curl(t, s.base+"/kv/getmany?keys=b,nope,a,c,a")
			if want := "b=two\na=1\nc=\na=1\n"; r.status != 200 || r.body != want {
				t.Errorf("getmany = %d %q; want 200 %q", r.status, r.body, want)
			}
			if r := curl(t, s.base+"/kv/getmany?keys=x,y"); r.status != 200 || r.body != "" {
				t.Errorf("getmany of absent keys = %d %q; want 200 and nothing", r.status, r.body)
			}
			if r := curl(t, s.base+"/kv/getmany?keys=a,,b"); r.status != 500 || !strings.Contains(r.body, "empty key") {
				t.Errorf("getmany with an empty key = %d %q; want 500 naming it", r.status, r.body)
			}
			m := adminMetrics(t, s)
			if want := `op="get_many",outcome="ok"} 2`; !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
			if strings.Contains(m, `op="get",`) {
				t.Errorf("GetMany went through Get:\n%s", m)
			}
		})
	}
}

// A Redis server that stops answering (SIGSTOP) costs a request the
// store's timeout, and the guest gets sdk.ErrTimeout to answer 503 with,
// instead of the request's whole deadline and a 504.
func TestKVTimeoutRedisStopped(t *testing.T) {
	url, proc := testutil.RedisProcess(t)
	s := kvSite(t, fmt.Sprintf("kv \"default\" {\n  backend = \"redis\"\n  url = %q\n  timeout = \"300ms\"\n}", url))
	if r := curl(t, s.base+"/kv/set?key=k&value=v"); r.status != 200 {
		t.Fatalf("set: %d %q", r.status, r.body)
	}
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			proc.Signal(syscall.SIGCONT)
		}
	}()
	for _, path := range []string{"/kv/get?key=k", "/kv/set?key=k&value=w", "/kv/getmany?keys=k,j", "/kv/incr?key=n"} {
		r := curl(t, s.base+path)
		if r.status != 503 || !strings.Contains(r.body, "timed out") {
			t.Errorf("%s with Redis stopped = %d %q after %s; want 503 and the timeout", path, r.status, r.body, r.elapsed)
		}
		// Not a timing bound: the request's own timeout is 10s, and a
		// store bounded at 300ms answers long before it.
		if r.elapsed > 5*time.Second {
			t.Errorf("%s took %s: the store's timeout did not bound it", path, r.elapsed)
		}
	}
	proc.Signal(syscall.SIGCONT)
	stopped = false
	// Redis answers again: the store recovers (its timed-out connections
	// were dropped, not reused mid-reply).
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := curl(t, s.base+"/kv/get?key=k")
		if r.status == 200 {
			if r.body != "v" && r.body != "w" {
				t.Errorf("get after SIGCONT = %q", r.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("get after SIGCONT = %d %q", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An SQLite file another process keeps locked costs a write the store's
// timeout, not the request's, and the guest gets sdk.ErrTimeout.
func TestKVTimeoutSQLiteLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.kv")
	s := kvSite(t, fmt.Sprintf("kv \"default\" {\n  path = %q\n  timeout = \"300ms\"\n}", path))
	if r := curl(t, s.base+"/kv/set?key=k&value=v"); r.status != 200 {
		t.Fatalf("set: %d %q", r.status, r.body)
	}
	// Another process takes the write lock and keeps it until its stdin
	// closes.
	py := exec.Command(testutil.Need(t, "python3"), "-c", `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
`, path)
	stdin, _ := py.StdinPipe()
	stdout, _ := py.StdoutPipe()
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); py.Wait() }()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("python3 did not lock the file: %q", line)
	}
	for _, p := range []string{"/kv/set?key=k&value=w", "/kv/incr?key=n", "/kv/cas?key=k&old=v&new=x"} {
		r := curl(t, s.base+p)
		if r.status != 503 || !strings.Contains(r.body, "timed out") {
			t.Errorf("%s with the file locked = %d %q after %s; want 503 and the timeout", p, r.status, r.body, r.elapsed)
		}
		if r.elapsed > 5*time.Second {
			t.Errorf("%s took %s: the store's timeout did not bound it", p, r.elapsed)
		}
	}
	// Reads go on under WAL while the writer holds its lock.
	if r := curl(t, s.base+"/kv/get?key=k"); r.status != 200 || r.body != "v" {
		t.Errorf("get with the file locked = %d %q; want 200 v", r.status, r.body)
	}
	stdin.Close()
	py.Wait()
	if r := curl(t, s.base+"/kv/set?key=k&value=w"); r.status != 200 {
		t.Errorf("set once the lock is gone = %d %q", r.status, r.body)
	}
}

// A plugin built for ABI 1.2 (before kv_get_many) still loads and serves
// on this host, whose ABI is newer.
func TestABI12PluginServes(t *testing.T) {
	s := startSite(t, fmt.Sprintf(`plugin "old" { path = %q }`, testutil.Plugin(t, "plugins/testplugins/abi12")))
	if r := curl(t, s.base+"/"); r.status != 200 || r.body != "served by an ABI 1.2 plugin\n" {
		t.Errorf("ABI 1.2 plugin = %d %q", r.status, r.body)
	}
}

// A mounted plugin's redirects keep the mount: the guest's ServeMux and
// http.Redirect build Locations from r.URL.Path, which lacks it. A
// Location that already has the mount, an absolute URL and a relative
// reference are left as the handler wrote them.
func TestRedirectsKeepTheMount(t *testing.T) {
	s := startSite(t, `
plugin "app"  {
  path  = "{{redirects}}"
  mount = "/app"
}
plugin "root" { path = "{{redirects}}" }
`)
	for _, c := range []struct{ path, status, location string }{
		{"/app/dir", "307", "/app/dir/"},
		{"/app/dir?x=1", "307", "/app/dir/?x=1"},
		{"/app/go?to=/notes/", "302", "/app/notes/"},
		{"/app/go?to=notes/", "302", "/app/notes/"}, // http.Redirect resolves it against r.URL.Path
		{"/app/created", "201", "/app/notes/42"},
		{"/app/go?to=/app/notes", "302", "/app/notes"}, // has the mount already
		{"/app/go?to=/app", "302", "/app"},             // the mount itself
		{"/app/go?to=/apple", "302", "/app/apple"},     // not the mount: a segment boundary counts
		{"/app/go?to=https://example.com/x", "302", "https://example.com/x"},
		{"/app/go?to=//example.com/x", "302", "//example.com/x"},
		{"/dir", "307", "/dir/"}, // at "/" nothing changes
		{"/go?to=/notes/", "302", "/notes/"},
	} {
		r := curl(t, s.base+c.path)
		if fmt.Sprint(r.status) != c.status || r.header.Get("Location") != c.location {
			t.Errorf("%s = %d Location %q; want %s %q", c.path, r.status, r.header.Get("Location"), c.status, c.location)
		}
	}
	// Following the redirect lands inside the plugin.
	if r := curl(t, s.base+"/app/dir", "-L"); !strings.Contains(r.body, "in dir") {
		t.Errorf("following /app/dir: %d %q", r.status, r.body)
	}
}

// The guest's request carries X-Forwarded-Prefix: the mount, set by the
// host (a client's own is replaced, never passed on), and none at "/".
func TestForwardedPrefix(t *testing.T) {
	s := startSite(t, `
plugin "app"  {
  path  = "{{redirects}}"
  mount = "/app"
}
plugin "root" { path = "{{redirects}}" }
`)
	for _, c := range []struct{ path, want string }{
		{"/app/prefix", "prefix=/app\n"},
		{"/prefix", "prefix=\n"},
	} {
		for _, sent := range []string{"", "/evil"} {
			var args []string
			if sent != "" {
				args = []string{"-H", "X-Forwarded-Prefix: " + sent}
			}
			if r := curl(t, s.base+c.path, args...); r.status != 200 || r.body != c.want {
				t.Errorf("%s (client sent %q) = %d %q; want %q", c.path, sent, r.status, r.body, c.want)
			}
		}
	}
}

// The gin example (a module of its own) under mount "/api": gin's
// trailing-slash redirect keeps the mount (X-Forwarded-Prefix), a 201's
// Location built without it gets it, and the JSON API works on the store.
func TestGinExample(t *testing.T) {
	s := startSite(t, fmt.Sprintf(`
kv "default" { path = %q }
plugin "gin" {
  path  = %q
  mount = "/api"
  kv    = ["default"]
}`, filepath.Join(t.TempDir(), "notes.kv"), testutil.Plugin(t, "plugins/examples/gin")))
	if r := curl(t, s.base+"/api/healthz"); r.status != 200 || r.body != `{"ok":true}` {
		t.Errorf("healthz = %d %q", r.status, r.body)
	}
	if r := curl(t, s.base+"/api/notes/"); r.status != 301 || r.header.Get("Location") != "/api/notes" {
		t.Errorf("GET /api/notes/ = %d Location %q; want 301 /api/notes", r.status, r.header.Get("Location"))
	}
	for i, text := range []string{"buy milk", "call Ada"} {
		r := curl(t, s.base+"/api/notes", "-H", "Content-Type: application/json", "-d", `{"text":"`+text+`"}`)
		want := fmt.Sprintf(`{"id":%d,"text":%q}`, i+1, text)
		if r.status != 201 || r.body != want || r.header.Get("Location") != fmt.Sprintf("/api/notes/%d", i+1) {
			t.Errorf("POST = %d %q Location %q; want 201 %s", r.status, r.body, r.header.Get("Location"), want)
		}
	}
	if r := curl(t, s.base+"/api/notes/", "-L"); r.status != 200 || r.body != `[{"id":1,"text":"buy milk"},{"id":2,"text":"call Ada"}]` {
		t.Errorf("GET /api/notes/ followed = %d %q", r.status, r.body)
	}
	if r := curl(t, s.base+"/api/notes/2"); r.status != 200 || r.body != `{"id":2,"text":"call Ada"}` {
		t.Errorf("GET /api/notes/2 = %d %q", r.status, r.body)
	}
	if r := curl(t, s.base+"/api/notes", "-H", "Content-Type: application/json", "-d", `{}`); r.status != 400 {
		t.Errorf("POST without text = %d %q; want 400", r.status, r.body)
	}
	if r := curl(t, s.base+"/api/notes/9"); r.status != 404 {
		t.Errorf("GET /api/notes/9 = %d %q; want 404", r.status, r.body)
	}
}

// A WebSocket upgrade gets a 501 that says why, not a guest's bare one.
func TestWebSocketUpgradeSaysWhy(t *testing.T) {
	s := startSite(t, `plugin "hello" { path = "{{hello}}" }`)
	r := curl(t, s.base+"/chat", "--http1.1", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
		"-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
	if r.status != 501 || !strings.Contains(r.body, "does not support WebSockets") {
		t.Errorf("WebSocket upgrade = %d %q; want 501 saying WebSockets are not supported", r.status, r.body)
	}
	if r := curl(t, s.base+"/chat"); r.status != 200 {
		t.Errorf("plain request = %d %q", r.status, r.body)
	}
}

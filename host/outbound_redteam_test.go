package host_test

// The red-team tests of outbound requests, driven by Python's requests: a
// guest allowed one destination tries to reach another through it (Host,
// header entries, pseudo-headers, CONNECT, credentials, redirects), and a
// reload must not leave the old client's connections open.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

func init() { plugins["fronting"] = "plugins/testplugins/fronting" }

// recordingUpstream records the Host of every request it receives and counts its
// open connections.
type recordingUpstream struct {
	*httptest.Server
	mu    sync.Mutex
	hosts []string
	open  atomic.Int32
}

func startUpstream(t *testing.T) *recordingUpstream {
	u := &recordingUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.hosts = append(u.hosts, r.Method+" "+r.Host)
		u.mu.Unlock()
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		fmt.Fprintf(w, "upstream saw Host %s", r.Host)
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			u.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			u.open.Add(-1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.hosts...)
}

// pyGets fetches each path with requests and answers [status, body] by name.
const pyGets = `
import json, sys, requests
base, paths = sys.argv[1], json.loads(sys.argv[2])
print(json.dumps({k: [r.status_code, r.text] for k, r in ((k, requests.get(base + p, timeout=20)) for k, p in paths.items())}))
`

func pythonGets(t *testing.T, base string, paths map[string]string) map[string][2]string {
	t.Helper()
	py := testutil.PythonRequests(t)
	script := filepath.Join(t.TempDir(), "gets.py")
	os.WriteFile(script, []byte(pyGets), 0o644)
	arg, _ := json.Marshal(paths)
	out, err := exec.Command(py, script, base, string(arg)).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var raw map[string][2]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("python3 printed %s", out)
	}
	got := map[string][2]string{}
	for k, v := range raw {
		got[k] = [2]string{fmt.Sprint(v[0]), fmt.Sprint(v[1])}
	}
	return got
}

func doPath(target string, extra ...string) string {
	q := url.Values{"url": {target}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Add(extra[i], extra[i+1])
	}
	return "/do?" + q.Encode()
}

func TestOutboundFronting(t *testing.T) {
	up := startUpstream(t)
	other := startUpstream(t) // listening, and not allowed
	hostport := strings.TrimPrefix(up.URL, "http://")
	s := startSite(t, fmt.Sprintf(`plugin "fronting" {
  path          = "{{fronting}}"
  mount         = "/"
  allowed_hosts = [%q]
}
plugin "nogrant" {
  path  = "{{fronting}}"
  mount = "/nogrant"
}`, up.URL))
	attacks := map[string]string{
		"host":          doPath(up.URL+"/", "host", "admin.internal"),
		"host_port":     doPath(up.URL+"/", "host", "127.0.0.1:1"),
		"header_host":   doPath(up.URL+"/", "hdr", "Host=admin.internal"),
		"header_host_2": doPath(up.URL+"/", "hdr", "Host="+hostport, "hdr", "Host=admin.internal"),
		"lower_host":    doPath(up.URL+"/", "hdr", "host=admin.internal"),
		"authority":     doPath(up.URL+"/", "hdr", ":authority=admin.internal"),
		"crlf":          doPath(up.URL+"/", "hdr", "X-A=b\r\nHost: admin.internal"),
		"connect":       doPath(up.URL+"/", "method", "CONNECT"),
		"userinfo":      doPath("http://admin.internal@" + hostport + "/"),
		"trailing_dot":  doPath("http://127.0.0.1.:" + up.URL[strings.LastIndexByte(up.URL, ':')+1:] + "/"),
		"redirect_out":  doPath(up.URL + "/?to=" + url.QueryEscape(other.URL+"/")),
		"redirect_meta": doPath(up.URL + "/?to=" + url.QueryEscape("http://169.254.169.254/latest/meta-data/")),
		"nogrant":       "/nogrant" + doPath(up.URL+"/"),
		"allowed":       doPath(up.URL + "/"),
		"redirect_in":   doPath(up.URL + "/?to=" + url.QueryEscape(up.URL+"/landed")),
	}
	got := pythonGets(t, s.base, attacks)
	t.Logf("answers: %v", got)
	want := map[string][]string{
		"host":          {"502", "not allowed", "admin.internal", hostport},
		"host_port":     {"502", "not allowed", "127.0.0.1:1"},
		"header_host":   {"502", "not allowed", "admin.internal"},
		"header_host_2": {"502", "not allowed", "admin.internal"},
		"lower_host":    {"502", "not allowed", "admin.internal"},
		"authority":     {"502", ":authority"},
		"crlf":          {"502", "invalid header"},
		"connect":       {"502", "not allowed", "CONNECT"},
		"userinfo":      {"502", "not allowed", "credentials"},
		"trailing_dot":  {"502", "not allowed", "trailing dot"},
		"redirect_out":  {"502", "not allowed", strings.TrimPrefix(other.URL, "http://")},
		"redirect_meta": {"502", "not allowed", "169.254.169.254"},
		"nogrant":       {"502", "not allowed", "no allowed_hosts"},
		"allowed":       {"200", "upstream saw Host " + hostport},
		"redirect_in":   {"200", "upstream saw Host " + hostport},
	}
	for k, w := range want {
		g := got[k]
		if g[0] != w[0] {
			t.Errorf("%s: %s %q, want %s", k, g[0], g[1], w[0])
			continue
		}
		for _, part := range w[1:] {
			if !strings.Contains(g[1], part) {
				t.Errorf("%s: %q does not say %q", k, g[1], part)
			}
		}
	}
	for _, h := range up.seen() {
		if h != "GET "+hostport {
			t.Errorf("the upstream received %q: a refused request got through", h)
		}
	}
	if n := len(other.seen()); n != 0 {
		t.Errorf("the destination no rule allows received %d requests", n)
	}
}

// TestReloadClosesOutboundConnections: the client of a plugin's previous
// block is closed by a reload, so its idle keep-alive connections do not
// stay open for the transport's 90 s idle timeout, one set per reload.
func TestReloadClosesOutboundConnections(t *testing.T) {
	up := startUpstream(t)
	fronting := testutil.Plugin(t, "plugins/testplugins/fronting")
	text := func(env string) string {
		return fmt.Sprintf(`plugin "fronting" {
  path          = %q
  allowed_hosts = [%q]
  env           = { V = %q }
}`, fronting, up.URL, env)
	}
	s := startSite(t, text("1"))
	if got := pythonGets(t, s.base, map[string]string{"a": doPath(up.URL + "/")}); got["a"][0] != "200" {
		t.Fatalf("first request: %v", got)
	}
	if n := up.open.Load(); n != 1 {
		t.Fatalf("%d connections open to the upstream after one request, want 1 kept alive", n)
	}
	cfg, diags := config.Parse([]byte(text("2")), filepath.Join(t.TempDir(), "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if err := s.srv.Reload(context.Background(), host.SiteOf(cfg)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for up.open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := up.open.Load(); n != 0 {
		t.Errorf("%d connections of the replaced client still open 10 s after the reload, want 0", n)
	}
	if got := pythonGets(t, s.base, map[string]string{"a": doPath(up.URL + "/")}); got["a"][0] != "200" {
		t.Errorf("after the reload: %v", got)
	}
}

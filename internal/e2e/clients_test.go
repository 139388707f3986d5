package e2e

import (
	"bufio"
	"bytes"
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

// These tests drive a real wasmhost process with the clients people use
// (Python's http.client and requests, curl, h2load) rather than Go's,
// which reads the response while it writes the request and so never meets
// the bugs that clients sending a whole body first do.

// need returns the path of a program the test drives, or ends the test: a
// skip on a developer's machine without it, a failure under CI, where
// .ci/deps installs it.
func need(t *testing.T, name, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found; install the Debian package: apt-get install %s", name, debianPackage)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (.ci/deps does so under CI)")
	}
	t.Skip(msg)
	return ""
}

// pythonWithRequests returns a python3 that can import requests.
func pythonWithRequests(t *testing.T) string {
	t.Helper()
	var candidates []string
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3")
	for _, p := range candidates {
		if exec.Command(p, "-c", "import requests").Run() == nil {
			return p
		}
	}
	msg := "no python3 with the requests module; install the Debian package: apt-get install python3-requests"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (.ci/deps does so under CI)")
	}
	t.Skip(msg)
	return ""
}

// py runs testdata/clients.py and decodes the JSON line it prints.
func py(t *testing.T, python string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(python, append([]string{filepath.Join("testdata", "clients.py")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clients.py %v: %v\n%s%s", args, err, out, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil {
		t.Fatalf("clients.py %v printed %q: %v", args, out, err)
	}
	return res
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// clientSite writes a site folder (site.hcl, a static file) and starts
// wasmhost on it, on a plain and a TLS listener.
type clientSite struct {
	proc       *testutil.Process
	base, tls  string // http://... and https://...
	hostport   string
	staticPath string
}

func startClientSite(t *testing.T, maxBody string) *clientSite {
	t.Helper()
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	testutil.WriteCert(t, dir, 1)
	if err := os.MkdirAll(filepath.Join(dir, "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "static", "app.css"), []byte("body { color: #123456; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plainAddr, tlsAddr := freeAddr(t), freeAddr(t)
	site := fmt.Sprintf(`server {
  listen        = ["http://%s", "https://%s"]
  max_body_size = %q
  tls {
    cert = "cert.pem"
    key  = "key.pem"
  }
}
static {
  path = "static"
}
plugin "hello" {
  path      = %q
  mount     = "/"
  instances = 4
}
plugin "echo" {
  path      = %q
  mount     = "/echo"
  instances = 2
  timeout   = "60s"
}
plugin "echo1" {
  path      = %q
  mount     = "/one/echo"
  instances = 1
  timeout   = "1s"
}
plugin "big1" {
  path      = %q
  mount     = "/one/big"
  instances = 1
  timeout   = "1s"
}
`, plainAddr, tlsAddr, maxBody,
		testutil.Plugin(t, "plugins/examples/hello"), testutil.Plugin(t, "plugins/examples/echo"),
		testutil.Plugin(t, "plugins/examples/echo"), testutil.Plugin(t, "plugins/testplugins/bigbody"))
	hcl := filepath.Join(dir, "site.hcl")
	if err := os.WriteFile(hcl, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartWasmhost(t, bin, "run", hcl)
	return &clientSite{proc: p, base: "http://" + plainAddr, tls: "https://" + tlsAddr, hostport: plainAddr, staticPath: "/static/app.css"}
}

// noPanics fails the test if the server logged a panic (net/http's "http:
// panic serving" included).
func (s *clientSite) noPanics(t *testing.T) {
	t.Helper()
	if logs := s.proc.Logs.String(); strings.Contains(logs, "panic") {
		t.Errorf("the server log shows a panic:\n%s", logs)
	}
}

func TestPythonClients(t *testing.T) {
	python := pythonWithRequests(t)
	s := startClientSite(t, "32MB")

	t.Run("keep-alive bodies the handler ignores", func(t *testing.T) {
		res := py(t, python, "keepalive", s.base, "100")
		if f := res["failures"].([]any); len(f) > 0 {
			t.Errorf("%d of 200 requests failed: %v", len(f), f)
		}
		if st := res["statuses"].(map[string]any); st["200"] != float64(200) {
			t.Errorf("statuses %v, want 200 times 200", st)
		}
	})
	t.Run("16 MiB echo", func(t *testing.T) {
		res := py(t, python, "echo", s.base, "16")
		for _, client := range []string{"http.client", "requests"} {
			r := res[client].(map[string]any)
			t.Logf("%s: %v", client, r)
			if r["status"] != float64(200) || r["size"] != float64(16<<20) || r["same"] != true {
				t.Errorf("%s posting 16 MiB to /echo: %v, want 200 and the same bytes back", client, r)
			}
		}
	})
	t.Run("HEAD, 304 and 206", func(t *testing.T) {
		res := py(t, python, "http", s.base, s.staticPath)
		want := map[string]any{
			"head_status": float64(200), "head_body": float64(0),
			"etag_status": float64(304), "etag_body": float64(0),
			"range_status": float64(206), "range_ok": true, "content_range": "bytes 2-5/25",
			"req_head_status": float64(200), "req_etag_status": float64(304),
			"req_range_status": float64(206), "req_range_ok": true,
		}
		for k, v := range want {
			if res[k] != v {
				t.Errorf("%s = %v, want %v (all: %v)", k, res[k], v, res)
			}
		}
		if res["head_length"] == nil {
			t.Errorf("HEAD / has no Content-Length: %v", res)
		}
	})
	s.noPanics(t)
}

func TestChunkedBodyOverTheLimitIs413(t *testing.T) {
	python := pythonWithRequests(t)
	s := startClientSite(t, "1MB")
	res := py(t, python, "chunked", s.base, "2")
	for _, client := range []string{"http.client", "requests"} {
		if res[client] != float64(413) {
			t.Errorf("%s: a chunked 2 MiB body over a 1 MB limit to a handler that ignores it got %v, want 413", client, res[client])
		}
	}
	s.noPanics(t)
}

// An instance is released at the plugin's timeout whatever the client does:
// promising a body it never sends, or never reading what it asked for.
func TestStalledClientsReleaseTheirInstance(t *testing.T) {
	python := pythonWithRequests(t)
	s := startClientSite(t, "32MB")
	curl := need(t, "curl", "curl")

	for _, c := range []struct{ name, cmd, path, next string }{
		{"a promised body that never comes", "nobody", "/one/echo", "/one/echo"},
		{"a response never read", "noread", "/one/big", "/one/big?mb=1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stalled := exec.Command(python, filepath.Join("testdata", "clients.py"), c.cmd, s.hostport, c.path, "4")
			stdout, err := stalled.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := stalled.Start(); err != nil {
				t.Fatal(err)
			}
			defer stalled.Wait()
			// Wait until the stalled request is sent, then a little for it
			// to take the plugin's only instance.
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if !strings.Contains(line, `"sent": true`) {
				t.Fatalf("clients.py %s: %q %v", c.cmd, line, err)
			}
			sent := time.Now()
			go io.Copy(io.Discard, stdout)
			// The next request waits for that instance, within its own
			// timeout of 1s: sent 0.6s in, it is served only if the stalled
			// request lets go at its deadline (1s), not when its client
			// gives up (4s).
			time.Sleep(600 * time.Millisecond)
			b, err := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
				"--data-binary", "hi", s.base+c.next).Output()
			took := time.Since(sent)
			if err != nil {
				t.Fatalf("curl %s: %v", c.next, err)
			}
			t.Logf("next request: %s, %v after the stalled one", b, took)
			if string(b) != "200" {
				t.Errorf("next request to the plugin: status %s, want 200", b)
			}
			if took > 1500*time.Millisecond {
				t.Errorf("the instance was released %v after the stalled request, want within timeout + 0.5s = 1.5s", took)
			}
		})
	}
	s.noPanics(t)
}

var h2loadDone = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored`)

func TestCurlAndH2load(t *testing.T) {
	curl := need(t, "curl", "curl")
	h2load := need(t, "h2load", "nghttp2-client")
	s := startClientSite(t, "32MB")
	body := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(body, bytes.Repeat([]byte(`{"k":"v"}`), 200), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("curl", func(t *testing.T) {
		// One connection, five POSTs with bodies the handler ignores.
		args := []string{"-s", "-w", "%{http_code} %{num_connects}\n", "--data-binary", "@" + body}
		for i := 0; i < 5; i++ {
			args = append(args, "-o", "/dev/null", s.base+"/")
		}
		out, err := exec.Command(curl, args...).Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		lines := strings.Fields(strings.ReplaceAll(string(out), "\n", " "))
		connects := 0
		for i := 0; i+1 < len(lines); i += 2 {
			if lines[i] != "200" {
				t.Errorf("curl POST: %q", out)
			}
			if lines[i+1] != "0" {
				connects++
			}
		}
		if connects != 1 {
			t.Errorf("curl opened %d connections for 5 keep-alive POSTs, want 1 (%q)", connects, out)
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"-I"}, "200"},
			{[]string{"-r", "0-3"}, "206"},
		} {
			out, err := exec.Command(curl, append(append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}"}, c.args...), s.base+s.staticPath)...).Output()
			if err != nil || string(out) != c.want {
				t.Errorf("curl %v: %s %v, want %s", c.args, out, err, c.want)
			}
		}
	})
	for _, c := range []struct{ name, url string }{
		{"h2load HTTP/1.1", s.base + "/"},
		{"h2load HTTP/2", s.tls + "/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"-n", "400", "-c", "4", "-m", "1", "-d", body, c.url}
			if strings.HasPrefix(c.url, "http:") {
				args = append([]string{"--h1"}, args...)
			}
			out, err := exec.Command(h2load, args...).CombinedOutput()
			m := h2loadDone.FindStringSubmatch(string(out))
			if err != nil || m == nil {
				t.Fatalf("h2load: %v\n%s", err, out)
			}
			if m[4] != "400" || m[5] != "0" || m[6] != "0" {
				t.Errorf("h2load POSTs with bodies: %s", m[0])
			}
		})
	}
	s.noPanics(t)
}

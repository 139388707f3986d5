package e2e

// End-to-end tests of server.xheaders: real wasmhost processes, the real
// environ plugin, and (TestNginx) a real nginx configured as in Tornado's
// "Running and deploying" guide (deploy/nginx.conf is the documented copy).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// xhWriteSite writes a site.hcl serving the environ plugin at "/" with
// xheaders on, plus extra server settings.
func xhWriteSite(t *testing.T, wasm, serverExtra string) string {
	t.Helper()
	text := fmt.Sprintf("server {\n  xheaders = true\n  %s\n}\n\nplugin \"environ\" {\n  path  = %q\n  mount = \"/\"\n}\n",
		serverExtra, wasm)
	path := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// environ parses the environ plugin's "KEY: value" lines.
func xhEnviron(body string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			env[k] = v
		}
	}
	return env
}

var xhClient = &http.Client{Timeout: 10 * time.Second}

// get sends a GET with the given headers (name, value pairs) and returns
// the environ the plugin saw; any failure ends the test.
func xhGet(t *testing.T, url string, headers ...string) map[string]string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := xhClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v:\n%s", url, resp.Status, err, b)
	}
	return xhEnviron(string(b))
}

func xhWantEnv(t *testing.T, what string, env map[string]string, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if got, ok := env[kv[i]]; !ok || got != kv[i+1] {
			t.Errorf("%s: %s = %q, want %q", what, kv[i], got, kv[i+1])
		}
	}
}

// xhSpoof is what a client would send to choose its own address and scheme.
var xhSpoof = []string{
	"X-Real-IP", "6.6.6.6",
	"X-Forwarded-For", "7.7.7.7",
	"Forwarded", "for=8.8.8.8;proto=https",
	"X-Scheme", "https",
	"X-Forwarded-Proto", "https",
}

func TestNginx(t *testing.T) {
	nginxBin := nginxFind(t)
	bin := testutil.Binary(t, "")
	wasm := testutil.Plugin(t, "plugins/examples/environ")
	// Default trusted_proxies: loopback, where nginx connects from.
	site := xhWriteSite(t, wasm, "")

	var backends []*testutil.Process
	var addrs []string
	ports := map[string]bool{}
	for i := 0; i < 4; i++ {
		p := testutil.StartWasmhost(t, bin, "run", site, "--listen", "127.0.0.1:0")
		backends = append(backends, p)
		addrs = append(addrs, p.Addr)
		_, port, _ := net.SplitHostPort(p.Addr)
		ports[port] = true
	}
	ng := nginxStart(t, nginxBin, addrs)
	base := "http://" + ng.Addr
	failed := func() {
		if t.Failed() {
			t.Logf("nginx log:\n%s", ng.logs())
			for i, p := range backends {
				t.Logf("backend %d (%s) log:\n%s", i, p.Addr, p.Logs.String())
			}
		}
	}
	defer failed()

	t.Run("client address and scheme via nginx", func(t *testing.T) {
		// nginx replaces X-Real-IP and X-Scheme, and X-Real-IP outranks the
		// other address headers: the client's spoofing goes nowhere.
		env := xhGet(t, base+"/env", xhSpoof...)
		xhWantEnv(t, "via nginx", env, "REMOTE_ADDR", "127.0.0.1", "wasmhost.url_scheme", "http",
			"HTTP_X_REAL_IP", "127.0.0.1", "HTTP_X_SCHEME", "http")
	})

	t.Run("X-Scheme from nginx", func(t *testing.T) {
		env := xhGet(t, base+"/tls/env")
		xhWantEnv(t, "X-Scheme https", env, "REMOTE_ADDR", "127.0.0.1", "wasmhost.url_scheme", "https")
	})

	t.Run("address nginx was told", func(t *testing.T) {
		env := xhGet(t, base+"/told/env", "X-Test-Client", "203.0.113.50")
		xhWantEnv(t, "told 203.0.113.50", env, "REMOTE_ADDR", "203.0.113.50")
		env = xhGet(t, base+"/told/env", "X-Test-Client", "2001:DB8:0::50")
		xhWantEnv(t, "told IPv6", env, "REMOTE_ADDR", "2001:db8::50") // canonical
		for _, bad := range []string{"evil.example", "1.2.3.4:80", "4.4.4.4<script>", "2130706433"} {
			env = xhGet(t, base+"/told/env", "X-Test-Client", bad)
			xhWantEnv(t, "told "+bad, env, "REMOTE_ADDR", "127.0.0.1")
		}
		// The access log shows the resolved address, not nginx's.
		logged := regexp.MustCompile(`client=203\.0\.113\.50(\s|$)`)
		deadline := time.Now().Add(5 * time.Second)
		for {
			found := false
			for _, p := range backends {
				found = found || logged.MatchString(p.Logs.String())
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("no backend's access log has client=203.0.113.50")
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("spread over all four backends", func(t *testing.T) {
		seen := map[string]int{}
		for i := 0; i < 40; i++ {
			env := xhGet(t, base+"/env")
			seen[env["SERVER_PORT"]]++
		}
		for port := range ports {
			if seen[port] == 0 {
				t.Errorf("backend on port %s got none of 40 requests; by SERVER_PORT: %v", port, seen)
			}
		}
		if len(seen) != len(ports) {
			t.Errorf("answers from SERVER_PORTs %v, want exactly the backends' %v", seen, ports)
		}
	})

	t.Run("one backend killed", func(t *testing.T) {
		dead := backends[0]
		dead.Cmd.Process.Signal(syscall.SIGKILL)
		if err := dead.Wait(10 * time.Second); err == nil || strings.Contains(err.Error(), "in time") {
			t.Fatalf("backend %s did not die of SIGKILL: %v", dead.Addr, err)
		}
		_, deadPort, _ := net.SplitHostPort(dead.Addr)
		seen := map[string]int{}
		for i := 0; i < 40; i++ {
			env := xhGet(t, base+"/env") // fails the test on any error status
			xhWantEnv(t, "after the kill", env, "REMOTE_ADDR", "127.0.0.1")
			seen[env["SERVER_PORT"]]++
		}
		if seen[deadPort] > 0 {
			t.Errorf("the killed backend (port %s) answered: %v", deadPort, seen)
		}
		if len(seen) != 3 {
			t.Errorf("answers from %v, want the three live backends", seen)
		}
	})
}

// TestXHeadersDirect talks to wasmhost with no proxy in between, so it runs
// without nginx too.
func TestXHeadersDirect(t *testing.T) {
	bin := testutil.Binary(t, "")
	wasm := testutil.Plugin(t, "plugins/examples/environ")

	t.Run("untrusted peer cannot spoof", func(t *testing.T) {
		// trusted_proxies excludes the test client (127.0.0.1).
		site := xhWriteSite(t, wasm, `trusted_proxies = ["10.0.0.0/8"]`)
		p := testutil.StartWasmhost(t, bin, "run", site, "--listen", "127.0.0.1:0")
		env := xhGet(t, "http://"+p.Addr+"/env", xhSpoof...)
		xhWantEnv(t, "spoofed headers from 127.0.0.1", env, "REMOTE_ADDR", "127.0.0.1", "wasmhost.url_scheme", "http")
		if env["REMOTE_PORT"] == "" {
			t.Errorf("REMOTE_PORT is empty; the peer's port should stay with the peer's address")
		}
	})

	t.Run("per request on one keep-alive connection", func(t *testing.T) {
		site := xhWriteSite(t, wasm, "") // loopback trusted
		p := testutil.StartWasmhost(t, bin, "run", site, "--listen", "127.0.0.1:0")
		conn, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(conn)
		_, localPort, _ := net.SplitHostPort(conn.LocalAddr().String())

		roundTrip := func(extra string) map[string]string {
			t.Helper()
			fmt.Fprintf(conn, "GET /env HTTP/1.1\r\nHost: %s\r\n%s\r\n", p.Addr, extra)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
				t.Fatalf("%s (close=%v), %v:\n%s", resp.Status, resp.Close, err, b)
			}
			return xhEnviron(string(b))
		}
		env := roundTrip("X-Real-IP: 9.9.9.9\r\nX-Scheme: https\r\n")
		xhWantEnv(t, "first request, with headers", env, "REMOTE_ADDR", "9.9.9.9", "wasmhost.url_scheme", "https")
		env = roundTrip("")
		// REMOTE_PORT proves it is the same connection.
		xhWantEnv(t, "second request, same connection, no headers", env,
			"REMOTE_ADDR", "127.0.0.1", "REMOTE_PORT", localPort, "wasmhost.url_scheme", "http")
	})
}

// TestDeployNginxConf keeps deploy/nginx.conf valid: nginx -t on a copy
// whose log and pid paths point into a temporary folder (the rest, such as
// /etc/nginx/mime.types, is what the Debian package installs).
func TestDeployNginxConf(t *testing.T) {
	nginxBin := nginxFind(t)
	text, err := os.ReadFile(filepath.Join(testutil.Root(), "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := strings.NewReplacer("/var/log/nginx/", dir+"/", "/run/nginx.pid", dir+"/nginx.pid").Replace(string(text))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxBin, "-e", "stderr", "-p", dir, "-t", "-c", path)
	out, err := nginxRun(cmd, 30*time.Second)
	if err != nil {
		t.Fatalf("nginx -t deploy/nginx.conf: %v\n%s", err, out)
	}
}

func nginxRun(cmd *exec.Cmd, d time.Duration) (string, error) {
	var out testutil.LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("no answer within %s", d)
	}
}

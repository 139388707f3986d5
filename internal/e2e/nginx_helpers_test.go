package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// nginxFind returns the nginx binary, or ends the test: a skip on a
// developer's machine without nginx, a failure under CI, where .ci/run
// installs the Debian package and a silent skip would hide the test.
func nginxFind(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	msg := "nginx not found (not /usr/sbin/nginx nor in PATH); install the Debian package: apt-get install nginx"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (.ci/run does so under CI)")
	}
	t.Skip(msg)
	return ""
}

// nginxFreePort returns a loopback port that was free a moment ago. nginx needs
// its port in the config, so there is a small window in which another
// process could take it; nginxStart retries on a bind failure.
func nginxFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// nginxTestConf is a test nginx.conf: Tornado's guide's upstream block, with
// every file nginx writes inside the test's folder.
var nginxTestConf = template.Must(template.New("nginx.conf").Parse(`
{{if .Root}}user root;  # as root, nginx would otherwise run workers as nobody, who cannot enter the 0700 test folder
{{end}}worker_processes 1;  # one worker: round-robin over the upstream is then exact
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;

events {
    worker_connections 64;
}

http {
    access_log {{.Dir}}/access.log;
    client_body_temp_path {{.Dir}}/client_body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;

    upstream frontends {
{{range .Backends}}        server {{.}};
{{end}}    }

    proxy_connect_timeout 5s;
    proxy_read_timeout 30s;
    # Retry only when a backend cannot be reached, as in Tornado's guide.
    proxy_next_upstream error;

    server {
        listen 127.0.0.1:{{.Port}};

        # The deployment: nginx says who the client was and which scheme.
        location / {
            proxy_pass_header Server;
            proxy_set_header Host $http_host;
            proxy_redirect off;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Scheme $scheme;
            proxy_pass http://frontends;
        }

        # Trust "configured that way": nginx passes on the address a test
        # header names, as a proxy behind another balancer would pass on
        # what that balancer said.
        location /told/ {
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $http_x_test_client;
            proxy_set_header X-Scheme $scheme;
            proxy_pass http://frontends;
        }

        # As if nginx had terminated TLS: X-Scheme is what the plugin sees.
        location /tls/ {
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Scheme https;
            proxy_pass http://frontends;
        }
    }
}
`))

type nginxProc struct {
	Addr string // 127.0.0.1:port
	dir  string
	out  *testutil.LockedBuffer
}

// logs is what nginx printed and wrote to its error log, for failures.
func (n *nginxProc) logs() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return n.out.String() + string(b)
}

// nginxStart runs nginx in the foreground, in its own process group, over
// the given backends, and returns once its port accepts connections. It
// is stopped when the test ends.
func nginxStart(t *testing.T, bin string, backends []string) *nginxProc {
	t.Helper()
	var lastErr string
	for attempt := 0; attempt < 3; attempt++ {
		n, err := nginxTryStart(t, bin, backends)
		if err == nil {
			return n
		}
		lastErr = err.Error()
		if !strings.Contains(lastErr, "Address already in use") {
			break
		}
	}
	t.Fatalf("nginx did not start: %s", lastErr)
	return nil
}

func nginxTryStart(t *testing.T, bin string, backends []string) (*nginxProc, error) {
	dir := t.TempDir()
	port := nginxFreePort(t)
	var conf bytes.Buffer
	err := nginxTestConf.Execute(&conf, map[string]any{
		"Dir": dir, "Port": port, "Backends": backends, "Root": os.Geteuid() == 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// -e: the log for errors before the config is read, which would
	// otherwise be /var/log/nginx/error.log (unwritable when not root).
	cmd := exec.Command(bin, "-e", "stderr", "-p", dir, "-c", confPath, "-g", "daemon off;")
	n := &nginxProc{Addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, out: &testutil.LockedBuffer{}}
	cmd.Stdout, cmd.Stderr = n.out, n.out
	// A process group of its own, so the master and its worker can be
	// killed together if the master does not stop when asked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		// SIGQUIT: graceful stop; the master takes its worker with it.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("nginx exited (%v):\n%s", err, n.logs())
		default:
		}
		if c, err := net.DialTimeout("tcp", n.Addr, time.Second); err == nil {
			c.Close()
			t.Cleanup(stop)
			return n, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("nginx did not listen on %s within 15s:\n%s", n.Addr, n.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// deployNginx runs deploy/nginx.conf itself over backends: only its
// paths, its listen port, its user and its upstream servers are changed.
func deployNginx(t *testing.T, bin string, backends []string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(testutil.Root(), "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := nginxFreePort(t)
	var ups strings.Builder
	for _, b := range backends {
		fmt.Fprintf(&ups, "        server %s;\n", b)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := string(text)
	for i := 0; i < 4; i++ {
		line := fmt.Sprintf("        server 127.0.0.1:800%d;\n", i)
		if !strings.Contains(conf, line) {
			t.Fatalf("deploy/nginx.conf has no %q", line)
		}
		if i == 0 {
			conf = strings.Replace(conf, line, ups.String(), 1)
		} else {
			conf = strings.Replace(conf, line, "", 1)
		}
	}
	temps := ""
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		temps += fmt.Sprintf("    %s_temp_path %s/%s;\n", k, dir, k)
	}
	conf = strings.NewReplacer(
		"user www-data;", user,
		"/var/log/nginx/", dir+"/", "/run/nginx.pid", dir+"/nginx.pid",
		"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port), "listen [::]:80;", "",
		"http {\n", "http {\n"+temps,
	).Replace(conf)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-e", "stderr", "-p", dir, "-c", path, "-g", "daemon off;")
	out := &testutil.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx:\n%s%s", out.String(), b)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen:\n%s", out.String())
		}
	}
}

// acrossHosts opens connections through nginx until two hosts hold some
// (a connection id names its hub), stays silent for 2 s, publishes once
// over HTTP, and reports who got it.
const acrossHosts = `
import asyncio, json, sys, urllib.request
import websockets
async def recv(ws):
    return await asyncio.wait_for(ws.recv(), 5)
async def main(base):
    conns, hubs = [], set()
    while len(conns) < 32 and (len(hubs) < 2 or len(conns) < 8):
        ws = await websockets.connect("ws" + base[4:] + "/rt/", ping_interval=None, open_timeout=5)
        hubs.add((await recv(ws)).split()[1].rsplit(".", 1)[0])
        conns.append(ws)
    await asyncio.sleep(2)  # ping_interval is 1s: pings cross nginx both ways
    body = urllib.request.urlopen(base + "/rt/publish?across", timeout=10).read().decode()
    got = 0
    for ws in conns:
        if await recv(ws) == "across":
            got += 1
        await ws.close()
    return {"hubs": len(hubs), "conns": len(conns), "got": got, "publish": body}
print(json.dumps(asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))))
`

// Two hosts sharing a Redis pubsub behind deploy/nginx.conf: upgrades
// pass through nginx, and a publish on one host reaches connections on
// the other.
func TestRealtimeThroughNginxAcrossHosts(t *testing.T) {
	nginxBin := nginxFind(t)
	py := testutil.PythonWebsockets(t)
	redisURL := testutil.Redis(t)
	bin := testutil.Binary(t, "")
	site := filepath.Join(t.TempDir(), "site.hcl")
	text := fmt.Sprintf(`pubsub "default" {
  backend = "redis"
  url     = %q
}
plugin "rt" {
  path   = %q
  mount  = "/rt"
  pubsub = ["default"]
  websocket {
    ping_interval = "1s"
  }
}
`, redisURL, testutil.Plugin(t, "plugins/testplugins/rtraw"))
	if err := os.WriteFile(site, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for i := 0; i < 2; i++ {
		addrs = append(addrs, testutil.StartWasmhost(t, bin, "run", site, "--listen", "127.0.0.1:0").Addr)
	}
	ng := deployNginx(t, nginxBin, addrs)
	out, err := exec.Command(py, "-c", acrossHosts, "http://"+ng).Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var r struct {
		Hubs, Conns, Got int
		Publish          string
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Hubs != 2 || r.Got != r.Conns || r.Publish != "published 0" {
		t.Errorf("connections on %d hosts: %d of %d got the publish (%q)", r.Hubs, r.Got, r.Conns, r.Publish)
	}
}

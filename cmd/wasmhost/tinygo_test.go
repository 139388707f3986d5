package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// tinygoEnv returns the environment under which `wasmhost build --tinygo`
// finds a working TinyGo: the one ../shared/tinygo/install.sh (run by
// .ci/deps) sets up with its env.sh, or else a tinygo already in PATH.
// Without one the test skips, or fails under CI=true.
func tinygoEnv(t *testing.T) []string {
	t.Helper()
	home, _ := os.UserHomeDir()
	envSh := filepath.Join(home, ".cache", "wasmhost-tinygo", "env.sh")
	if _, err := os.Stat(envSh); err == nil {
		out, err := exec.Command("bash", "-c", `source "$1" && env -0`, "bash", envSh).Output()
		if err != nil {
			t.Fatalf("source %s: %v", envSh, err)
		}
		env := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		return append(env, "GOPROXY=off", "GOFLAGS=", "GOWORK=off")
	}
	if _, err := exec.LookPath("tinygo"); err == nil {
		return offlineEnv()
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("TinyGo is not installed (no %s, no tinygo in PATH): .ci/deps installs it under CI", envSh)
	}
	t.Skipf("TinyGo is not installed; skipping (install it with ../shared/tinygo/install.sh, or run .ci/deps with CI=true)")
	return nil
}

// What TinyGo support promises: hello, environ, echo and stream, copied
// into a module made by `wasmhost new` (go 1.23, which TinyGo 0.34 accepts),
// build with --tinygo and serve correctly through a real wasmhost, and the
// chat example's WebSocket events and publishes work from a TinyGo build.
// Sizes and per-request times next to standard Go's are logged (go test
// -v): figures, not bounds, since a loaded machine stalls a request now
// and then.
func TestTinyGoExamplesServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins with TinyGo")
	}
	env := tinygoEnv(t)
	python := lookPython(t)
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	build := func(env []string, args ...string) error {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("wasmhost %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := build(env, "new", "tg"); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dir, "tg")
	examples := []string{"hello", "environ", "echo", "stream"}
	for _, name := range examples {
		pkg := filepath.Join(mod, name)
		if err := os.MkdirAll(pkg, 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.CopyFile(t, filepath.Join(testutil.Root(), "plugins", "examples", name, "main.go"), filepath.Join(pkg, "main.go"))
	}
	// The chat example, with its page.
	if err := os.MkdirAll(filepath.Join(mod, "chat"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.go", "page.html"} {
		testutil.CopyFile(t, filepath.Join(testutil.Root(), "plugins", "examples", "chat", f), filepath.Join(mod, "chat", f))
	}
	// And the stack test's plugin (TinyGoStack), built alongside.
	if err := os.MkdirAll(filepath.Join(mod, "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.CopyFile(t, filepath.Join(testutil.Root(), "cmd", "wasmhost", "testdata", "deepstack", "main.go"), filepath.Join(mod, "deep", "main.go"))
	// The builds run two at a time: a TinyGo build is mostly one core's
	// work (LLVM), and this machine has two. Standard Go's hello, from the
	// same module, is built too for comparison (with the usual Go:
	// TinyGo's env puts a go1.23 first in PATH).
	type job struct {
		env  []string
		args []string
	}
	jobs := []job{{offlineEnv(), []string{"build", "-o", "tg/hello/hello-go.wasm", "tg/hello"}}}
	for _, name := range append(examples, "deep", "chat") {
		jobs = append(jobs, job{env, []string{"build", "--tinygo", "tg/" + name}})
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 2)
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			errs[i] = build(j.env, j.args...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, f := range []string{"hello/hello.wasm", "hello/hello-go.wasm", "echo/echo.wasm"} {
		if fi, err := os.Stat(filepath.Join(mod, f)); err == nil {
			t.Logf("size of %s: %d KiB", f, fi.Size()>>10)
		}
	}

	site := filepath.Join(dir, "site.hcl")
	var hcl strings.Builder
	hcl.WriteString("server { listen = [\"127.0.0.1:0\"] }\n")
	for _, name := range examples {
		hcl.WriteString("plugin \"" + name + "\" {\n  path = \"tg/" + name + "/" + name + ".wasm\"\n  mount = \"/" + name + "\"\n}\n")
	}
	hcl.WriteString("plugin \"hello-go\" {\n  path = \"tg/hello/hello-go.wasm\"\n  mount = \"/hello-go\"\n}\n")
	hcl.WriteString("pubsub \"default\" {}\nplugin \"chat\" {\n  path = \"tg/chat/chat.wasm\"\n  mount = \"/chat\"\n  pubsub = [\"default\"]\n  websocket {}\n}\n")
	writeText(t, site, hcl.String())
	p := testutil.StartWasmhost(t, bin, "run", site)

	// python3 drives the checks: a client that is not Go's.
	runPython(t, python, p, tinygoClient, p.Addr)
	runPython(t, testutil.PythonWebsockets(t), p, tinygoChat, "ws://"+p.Addr+"/chat/")
	checkTinyGoStack(t, bin, dir, env)
}

// runPython runs a python3 script against the wasmhost process p; its
// output goes to the test log, and a failure shows p's log too.
func runPython(t *testing.T, python string, p *testutil.Process, script string, args ...string) {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Log(strings.TrimSpace(stdout.String()))
	if err != nil {
		t.Fatalf("python3 client: %v\n%s\nwasmhost log:\n%s", err, stderr.String(), p.Logs.String())
	}
}

func lookPython(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is not installed")
		}
		t.Skip("python3 is not installed; skipping")
	}
	return path
}

// tinygoClient checks each plugin's answers and times hello. It exits
// non-zero with a message on the first wrong answer.
const tinygoClient = `
import http.client, os, sys, time

addr = sys.argv[1]
host, port = addr.rsplit(":", 1)

def conn():
    return http.client.HTTPConnection(host, int(port), timeout=30)

def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

c = conn()
c.request("GET", "/hello")
r = c.getresponse(); body = r.read()
if r.status != 200 or body != b"Hello, world\n":
    fail("hello: %d %r" % (r.status, body))

c.request("GET", "/environ/x?q=1", headers={"X-Probe": "tinygo"})
r = c.getresponse(); body = r.read().decode()
for want in ("PATH_INFO: /x", "QUERY_STRING: q=1", "HTTP_X_PROBE: tinygo", "wasmhost.plugin: environ"):
    if want not in body:
        fail("environ lacks %r:\n%s" % (want, body))

data = os.urandom(3 << 20)
c.request("POST", "/echo", body=data, headers={"Content-Type": "application/octet-stream"})
r = c.getresponse(); body = r.read()
if r.status != 200 or body != data:
    fail("echo: %d, %d bytes back of %d, equal=%s" % (r.status, len(body), len(data), body == data))

c.request("GET", "/stream?n=5&delay=10")
r = c.getresponse()
if r.getheader("Transfer-Encoding") != "chunked":
    fail("stream not chunked: %r" % r.getheaders())
body = r.read().decode()
if body != "".join("chunk %d\n" % i for i in range(1, 6)):
    fail("stream: %r" % body)

def timed(path, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse(); r.read()
        times.append(time.perf_counter() - t0)
        if r.status != 200:
            fail("%s: %d" % (path, r.status))
    times.sort()
    return times

summary = {}
for path in ("/hello", "/hello-go"):
    timed(path, 20)  # warm the instances
    times = timed(path, 200)
    summary[path] = times
    print("%s: 200 sequential requests: median %.3f ms, p95 %.3f ms, max %.3f ms" % (
        path, times[100] * 1e3, times[190] * 1e3, times[-1] * 1e3))
`

// tinygoChat joins the chat example twice and checks that a message
// reaches both members.
const tinygoChat = `
import asyncio, sys, websockets

async def main(url):
    async with websockets.connect(url + "?user=ann") as a:
        assert await a.recv() == "* ann joined"
        async with websockets.connect(url + "?user=bob") as b:
            assert await a.recv() == "* bob joined"
            assert await b.recv() == "* bob joined"
            await a.send("hi")
            got = [await a.recv(), await b.recv()]
            assert got == ["ann: hi", "ann: hi"], got
    print("chat: join and publish through a TinyGo build")

asyncio.run(asyncio.wait_for(main(sys.argv[1]), 30))
`

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// What `source` promises: `wasmhost run --debug` with
// source = "greet" and no .wasm builds the plugin at start; an edit to
// main.go serves the new text within 20 s with no failed request in
// between; a compile error gives 500 pages with main.go:LINE and the
// message (text and HTML) while another plugin keeps serving; the fix
// brings it back. python3 makes the edits and the requests.
func TestDebugRebuildsFromSource(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasmhost and plugins, runs a server")
	}
	python := lookPython(t)
	hello := testutil.Plugin(t, "plugins/examples/hello")
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	runIn(t, dir, bin, "new", "greet")
	site := filepath.Join(dir, "site.hcl")
	writeText(t, site, `server { listen = ["127.0.0.1:0"] }
plugin "greet" {
  path   = "greet/greet.wasm"
  source = "greet"
  mount  = "/greet"
}
plugin "hello" {
  path  = "`+hello+`"
  mount = "/hello"
}
`)
	p := testutil.StartWasmhost(t, bin, "run", "--debug", site)
	runPython(t, python, p, devSourceClient, p.Addr, filepath.Join(dir, "greet", "main.go"))
	if !strings.Contains(p.Logs.String(), "undefined: nme") {
		t.Errorf("the log lacks the compiler's message:\n%s", p.Logs.String())
	}
}

const devSourceClient = `
import http.client, sys, time

host, port = sys.argv[1].rsplit(":", 1)
main_go = sys.argv[2]

def get(path, accept="*/*"):
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("GET", path, headers={"Accept": accept})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body

def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

def edit(old, new):
    src = open(main_go).read()
    if old not in src:
        fail("main.go lacks %r" % old)
    open(main_go, "w").write(src.replace(old, new))

def until(pred, what, allowed):
    t0 = time.time()
    while time.time() - t0 < 20:
        status, ctype, body = get("/greet/?name=Ada")
        if pred(status, body):
            return time.time() - t0
        if not allowed(status, body):
            fail("while waiting for %s: %d %r" % (what, status, body))
        time.sleep(0.05)
    fail("no %s within 20 s" % what)

status, _, body = get("/greet/?name=Ada")
if (status, body) != (200, "Hello, Ada!\n"):
    fail("built at start: %d %r" % (status, body))

edit('"Hello, %s!\\n", name)', '"Howdy, %s!\\n", name)')
took = until(lambda s, b: b == "Howdy, Ada!\n", "the edited text",
             lambda s, b: s == 200 and b == "Hello, Ada!\n")
print("edit to new response: %.2f s" % took)

edit('"Howdy, %s!\\n", name)', '"Howdy, %s!\\n", nme)')
line = [i + 1 for i, l in enumerate(open(main_go).read().split("\n")) if "nme)" in l][0]
took = until(lambda s, b: s == 500, "the compile error page",
             lambda s, b: s == 200 and b == "Howdy, Ada!\n")
print("edit to compile error page: %.2f s" % took)
status, ctype, body = get("/greet/?name=Ada")
want = "main.go:%d:" % line
if status != 500 or want not in body or "undefined: nme" not in body or not ctype.startswith("text/plain"):
    fail("text error page: %d %s %r (want %s)" % (status, ctype, body, want))
status, ctype, body = get("/greet/", accept="text/html,application/xhtml+xml")
if status != 500 or not ctype.startswith("text/html") or want not in body or "<pre>" not in body:
    fail("HTML error page: %d %s %r" % (status, ctype, body))
status, _, body = get("/hello")
if (status, body) != (200, "Hello, world\n"):
    fail("the other plugin stopped serving: %d %r" % (status, body))

edit('"Howdy, %s!\\n", nme)', '"Hi, %s!\\n", name)')
took = until(lambda s, b: s == 200 and b == "Hi, Ada!\n", "the fixed plugin",
             lambda s, b: s == 500)
print("fix to served again: %.2f s" % took)
`

// Under debug, plugins that do not load at start (file missing, not wasm,
// source that does not compile) do not stop the server: their mounts
// answer 500 with the reason, the others serve, and each loads once its
// file or source is fixed, with no restart.
func TestDebugStartsWithBrokenPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasmhost and plugins, runs a server")
	}
	python := lookPython(t)
	hello := testutil.Plugin(t, "plugins/examples/hello")
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	runIn(t, dir, bin, "new", "broken")
	mainGo := filepath.Join(dir, "broken", "main.go")
	writeText(t, filepath.Join(dir, "bad.wasm"), "not wasm at all")
	mustMkdir(t, filepath.Join(dir, "missing"))
	src := readText(t, mainGo)
	writeText(t, mainGo, strings.Replace(src, `fmt.Fprintf(w, "Hello, %s!\n", name)`, `fmt.Fprintf(w, "Hello, %s!\n", nme)`, 1))
	site := filepath.Join(dir, "site.hcl")
	writeText(t, site, `server { listen = ["127.0.0.1:0"] }
plugin "missing" {
  path  = "missing/missing.wasm"
  mount = "/missing"
}
plugin "bad" {
  path  = "bad.wasm"
  mount = "/bad"
}
plugin "broken" {
  path   = "broken/broken.wasm"
  source = "broken"
  mount  = "/broken"
}
plugin "hello" {
  path  = "`+hello+`"
  mount = "/hello"
}
`)
	p := testutil.StartWasmhost(t, bin, "run", "--debug", site)
	runPython(t, python, p, brokenStartClient, p.Addr, dir, hello)
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const brokenStartClient = `
import http.client, os, shutil, sys, time

host, port = sys.argv[1].rsplit(":", 1)
d, hello = sys.argv[2], sys.argv[3]

def get(path):
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body

def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

def expect_500(path, *wants):
    status, body = get(path)
    if status != 500 or not all(w in body for w in wants):
        fail("%s: want 500 with %r, got %d %r" % (path, wants, status, body))

def until_200(path, want):
    t0 = time.time()
    while time.time() - t0 < 30:
        status, body = get(path)
        if status == 200 and body == want:
            return time.time() - t0
        if status != 500:
            fail("%s: %d %r while it was being fixed" % (path, status, body))
        time.sleep(0.1)
    fail("%s did not come back within 30 s" % path)

expect_500("/missing", "missing.wasm")
expect_500("/bad", "bad.wasm")
expect_500("/broken/", "main.go:", "undefined: nme")
if get("/hello") != (200, "Hello, world\n"):
    fail("hello: %r" % (get("/hello"),))

# Fixed by a copy into place (as a deploy would do: write, then rename).
for name in ("missing/missing.wasm", "bad.wasm"):
    tmp = os.path.join(d, name + ".tmp")
    shutil.copyfile(hello, tmp)
    os.rename(tmp, os.path.join(d, name))
for path in ("/missing", "/bad"):
    print("%s loaded %.2f s after the fix" % (path, until_200(path, "Hello, world\n")))

main_go = os.path.join(d, "broken", "main.go")
src = open(main_go).read()
open(main_go, "w").write(src.replace("nme)", "name)"))
print("/broken served %.2f s after the fix" % until_200("/broken/?name=Ada", "Hello, Ada!\n"))
`

// Without debug, check warns when a plugin's path is older than its
// source, and fails on a source folder that is not there.
func TestCheckSourceStaleness(t *testing.T) {
	hello := testutil.Plugin(t, "plugins/examples/hello")
	dir := t.TempDir()
	mustMkdir(t, filepath.Join(dir, "src"))
	writeText(t, filepath.Join(dir, "src", "main.go"), "package main\n")
	testutil.CopyFile(t, hello, filepath.Join(dir, "p.wasm"))
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "p.wasm"), old, old); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "site.hcl")
	writeText(t, site, "plugin \"p\" {\n  path   = \"p.wasm\"\n  source = \"src\"\n}\n")
	code, _, stderr := runCLI("check", site)
	if code != exitOK || !strings.Contains(stderr, "site.hcl:2,") || !strings.Contains(stderr, "older than its source") {
		t.Errorf("check with a stale plugin: exit %d, stderr %q; want 0 and a warning at the path", code, stderr)
	}
	now := time.Now()
	os.Chtimes(filepath.Join(dir, "p.wasm"), now, now)
	if code, _, stderr := runCLI("check", site); code != exitOK || strings.Contains(stderr, "older") {
		t.Errorf("check with a fresh plugin: exit %d, stderr %q", code, stderr)
	}
	writeText(t, site, "plugin \"p\" {\n  path   = \"p.wasm\"\n  source = \"nowhere\"\n}\n")
	if code, _, stderr := runCLI("check", site); code != exitUsage || !strings.Contains(stderr, "site.hcl:3,") {
		t.Errorf("check with a missing source folder: exit %d, stderr %q; want 2 and an error at source", code, stderr)
	}
}

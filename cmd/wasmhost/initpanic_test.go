package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// A plugin whose init panics (a broken template.Must) under debug with
// source: its error page shows the panic's message, not only the runtime's
// "wasm error: unreachable" and a stack, and the log says what its
// requests get (the error page), not that the old version keeps serving.
func TestDebugInitPanicShowsItsMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasmhost and a plugin, runs a server")
	}
	python := lookPython(t)
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
`)
	p := testutil.StartWasmhost(t, bin, "run", "--debug", site)
	runPython(t, python, p, initPanicClient, p.Addr, filepath.Join(dir, "greet", "main.go"))
	logs := p.Logs.String()
	if !strings.Contains(logs, "new version refused; its requests get this error until the source is fixed") ||
		strings.Contains(logs, "the old one keeps serving") {
		t.Errorf("the log does not say what the plugin's requests get:\n%s", logs)
	}
}

const initPanicClient = `
import http.client, sys, time

host, port = sys.argv[1].rsplit(":", 1)
main_go = sys.argv[2]

def get(path, accept="*/*"):
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("GET", path, headers={"Accept": accept})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body

def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

status, body = get("/greet/?name=Ada")
if status != 200:
    fail("built at start: %d %r" % (status, body))

src = open(main_go).read()
src = src.replace("import (", 'import (\n\t"html/template"', 1)
src += '\nvar page = template.Must(template.New("page").Parse("a\\n\\n\\n\\n{{ .Title }"))\n\nvar _ = page\n'
open(main_go, "w").write(src)

want = 'panic: template: page:5: unexpected "}" in operand'
t0 = time.time()
while time.time() - t0 < 60:
    status, body = get("/greet/?name=Ada")
    if status == 500:
        break
    time.sleep(0.1)
else:
    fail("no error page within 60 s: %d %r" % (status, body))
if want not in body:
    fail("the error page lacks the panic's message %r:\n%s" % (want, body))
status, body = get("/greet/", accept="text/html")
if status != 500 or "template: page:5: unexpected &#34;}&#34; in operand" not in body and want not in body:
    fail("the HTML error page lacks the panic's message: %d\n%s" % (status, body))
`

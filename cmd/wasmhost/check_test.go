package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// fiveProblems has a typo'd setting, a bad duration, a missing module file
// (in the plugin block with the bad duration), an unknown middleware and a
// missing static folder: each in a different check stage.
const fiveProblems = `server {
  listen          = ["127.0.0.1:0"]
  shutdown_timout = "5s"
}
static {
  path = "statics"
}
plugin "app" {
  path    = "app.wasm"
  timeout = "ten seconds"
}
plugin "hello" {
  path       = "hello.wasm"
  mount      = "/hello"
  middleware = ["nope"]
}
`

var diagLine = regexp.MustCompile(`^broken\.hcl:(\d+),(\d+)(-\d+)?: (.*)$`)

// One run of `wasmhost check` reports all five problems, each at
// file:line,col, sorted by position; the static folder's says "static:"
// once.
func TestCheckReportsEveryProblemInOneRun(t *testing.T) {
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	writeText(t, filepath.Join(dir, "broken.hcl"), fiveProblems)
	testutil.CopyFile(t, testutil.Plugin(t, "plugins/examples/hello"), filepath.Join(dir, "hello.wasm"))
	cmd := exec.Command(bin, "check", "broken.hcl")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("check of a broken site succeeded:\n%s", out)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "broken.hcl: 5 problems" {
		t.Errorf("last line %q, want \"broken.hcl: 5 problems\"\n%s", last, out)
	}
	wants := []struct {
		line int
		text string
	}{
		{3, `"shutdown_timout" is not expected here`},
		{6, "static: folder " + filepath.Join(dir, "statics") + ": no such file"},
		{9, `plugin "app" (` + filepath.Join(dir, "app.wasm") + `): no such file`},
		{10, `invalid duration "ten seconds"`},
		{15, `"nope" is neither a plugin`},
	}
	var diags []string
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "plugin ") { // check's summary of a plugin that loads
			continue
		}
		diags = append(diags, l)
	}
	if len(diags) != len(wants) {
		t.Fatalf("%d diagnostics, want %d:\n%s", len(diags), len(wants), out)
	}
	for i, w := range wants {
		m := diagLine.FindStringSubmatch(diags[i])
		if m == nil || m[1] != strconv.Itoa(w.line) || !strings.Contains(m[4], w.text) {
			t.Errorf("diagnostic %d is %q; want one at broken.hcl:%d,COL saying %q", i+1, diags[i], w.line, w.text)
		}
	}
	if strings.Contains(string(out), "static: static:") {
		t.Errorf("the static folder's diagnostic repeats its prefix:\n%s", out)
	}
}

// wasmhost run reports a static folder that does not open at its place in
// site.hcl too.
func TestRunStaticFolderDiagnosticHasPosition(t *testing.T) {
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	writeText(t, filepath.Join(dir, "static.hcl"), "server { listen = [\"127.0.0.1:0\"] }\nstatic { path = \"statics\" }\n")
	cmd := exec.Command(bin, "run", "static.hcl")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	want := "static.hcl:2,17-26: static: folder " + filepath.Join(dir, "statics") + ": no such file or directory"
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("run with a missing static folder: err=%v, output:\n%s\nwant a line %q", err, out, want)
	}
}

// A middleware plugin that no chain names, beside a handler at "/", is not
// mounted: check warns that it serves nothing, and run starts and serves
// the handler at "/" (checked with curl). Before, it was mounted at "/" and
// both failed with "Duplicate mount".
func TestUnusedMiddlewareIsNotMounted(t *testing.T) {
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	testutil.CopyFile(t, testutil.Plugin(t, "plugins/examples/hello"), filepath.Join(dir, "hello.wasm"))
	testutil.CopyFile(t, testutil.Plugin(t, "plugins/examples/errorpage"), filepath.Join(dir, "errorpage.wasm"))
	site := filepath.Join(dir, "site.hcl")
	writeText(t, site, `server { listen = ["127.0.0.1:0"] }
plugin "hello" {
  path  = "hello.wasm"
  mount = "/"
}
plugin "errorpage" { path = "errorpage.wasm" }
`)
	out, err := exec.Command(bin, "check", site).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `site.hcl:6,1-19: Warning: Unused middleware; plugin "errorpage" is a middleware`) ||
		!strings.Contains(string(out), "middleware, unused: no middleware list names it") {
		t.Errorf("check: err=%v, output:\n%s\nwant success with an Unused middleware warning at line 6", err, out)
	}
	p := testutil.StartWasmhost(t, bin, "run", site)
	if got := curlBody(t, "http://"+p.Addr+"/"); !strings.HasPrefix(got, "Hello") {
		t.Errorf("curl / = %q, want hello's greeting", got)
	}
	if logs := p.Logs.String(); !strings.Contains(logs, "Unused middleware") {
		t.Errorf("run does not warn of the unused middleware:\n%s", logs)
	}
}

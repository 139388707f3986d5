package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// `wasmhost build --tags TAGS --ldflags FLAGS` passes both to the compiler:
// a file that only the tag compiles in, and a variable set with -X, show in
// what the plugin serves (checked with curl). A module not yet compiled is
// announced, with its size and time, by build (which compiles it into the
// cache) and by run on a cache that lacks it.
func TestBuildPassesTagsAndLDFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasmhost and a plugin")
	}
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	runIn(t, dir, bin, "new", "tagged")
	writeText(t, filepath.Join(dir, "tagged", "main.go"), `package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

var version = "unset"

var greeting = "plain"

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(greeting + " " + version + "\n"))
	}))
}

func main() {}
`)
	writeText(t, filepath.Join(dir, "tagged", "loud.go"), "//go:build loud\n\npackage main\n\nfunc init() { greeting = \"LOUD\" }\n")
	// An empty cache, so that build's compile into it is announced.
	cmd := exec.Command(bin, "build", "--tags", "loud,other", "--ldflags", "-X main.version=7", "tagged")
	cmd.Dir, cmd.Env = dir, append(offlineEnv(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("wasmhost build: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "compiling to machine code: engine=wazero module_size=") || !strings.Contains(string(out), "compiled: engine=wazero") {
		t.Errorf("wasmhost build does not announce its compile:\n%s", out)
	}
	site := filepath.Join(dir, "site.hcl")
	writeText(t, site, "server { listen = [\"127.0.0.1:0\"] }\nplugin \"tagged\" { path = \"tagged/tagged.wasm\" }\n")
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "other-cache")) // run compiles it again
	p := testutil.StartWasmhost(t, bin, "run", site)
	if got := curlBody(t, "http://"+p.Addr+"/"); got != "LOUD 7\n" {
		t.Errorf("curl / = %q, want \"LOUD 7\\n\" (the tag's file and the -X value)", got)
	}
	if logs := p.Logs.String(); !strings.Contains(logs, "wasmhost.loader.tagged: compiling to machine code") || !strings.Contains(logs, "took=") {
		t.Errorf("wasmhost run on an empty cache does not announce the compile:\n%s", logs)
	}
}

// checkTinyGoStack is TestTinyGoExamplesServe's check of the stack TinyGo
// plugins get, on tg/deep (testdata/deepstack) built there with `wasmhost
// build --tinygo`. A plugin that compiles a regexp at init (as goldmark
// does) needs more than TinyGo's default 64 KiB: it loads and serves
// (curl). One that overflows even the larger stack fails to load with a
// stack trace whose recursion is one line, and its message stays short.
func checkTinyGoStack(t *testing.T, bin, dir string, env []string) {
	t.Helper()
	site := filepath.Join(dir, "deep.hcl")
	writeText(t, site, `server { listen = ["127.0.0.1:0"] }
plugin "deep" { path = "tg/deep/deep.wasm" }
plugin "overflow" {
  path  = "tg/deep/deep.wasm"
  mount = "/overflow"
  env   = { RECURSE = "100000" }
}
`)
	cmd := exec.Command(bin, "check", site)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `plugin "deep": tg/deep/deep.wasm`) {
		t.Fatalf("check: err=%v; want deep to load and overflow to fail:\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, `plugin "overflow"`) {
			continue
		}
		if !strings.Contains(line, "out of bounds memory access") || !strings.Contains(line, "more frames of the same recursion") || len(line) > 2000 {
			t.Errorf("overflow's diagnostic (%d bytes) lacks the trap or the collapsed recursion, or is long:\n%s", len(line), line)
		}
	}
	writeText(t, site, "server { listen = [\"127.0.0.1:0\"] }\nplugin \"deep\" { path = \"tg/deep/deep.wasm\" }\n")
	p := testutil.StartWasmhost(t, bin, "run", site)
	if got := curlBody(t, "http://"+p.Addr+"/"); got != "200 groups: true\n" {
		t.Errorf("curl / = %q, want \"200 groups: true\\n\"", got)
	}
}

// A module whose init fails (here a standard-Go panic, which exits the
// guest) is refused by wasmhost build with the failure and the guest's own
// output, instead of being installed to fail every load.
func TestBuildRefusesFailingInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasmhost and a plugin")
	}
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	runIn(t, dir, bin, "new", "boom")
	writeText(t, filepath.Join(dir, "boom", "main.go"), `package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.NotFoundHandler())
	panic("the config is missing")
}

func main() {}
`)
	cmd := exec.Command(bin, "build", "boom")
	cmd.Dir, cmd.Env = dir, offlineEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "initialisation fails") || !strings.Contains(string(out), "panic: the config is missing") {
		t.Errorf("wasmhost build of a module whose init panics: err=%v, output:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "boom", "boom.wasm")); err == nil {
		t.Error("the refused module was installed")
	}
}

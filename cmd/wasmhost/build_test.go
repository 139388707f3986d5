package main

import (
	"path/filepath"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// `wasmhost build --tags TAGS --ldflags FLAGS` passes both to the compiler:
// a file that only the tag compiles in, and a variable set with -X, show in
// what the plugin serves (checked with curl).
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
	runIn(t, dir, bin, "build", "--tags", "loud,other", "--ldflags", "-X main.version=7", "tagged")
	site := filepath.Join(dir, "site.hcl")
	writeText(t, site, "server { listen = [\"127.0.0.1:0\"] }\nplugin \"tagged\" { path = \"tagged/tagged.wasm\" }\n")
	p := testutil.StartWasmhost(t, bin, "run", site)
	if got := curlBody(t, "http://"+p.Addr+"/"); got != "LOUD 7\n" {
		t.Errorf("curl / = %q, want \"LOUD 7\\n\" (the tag's file and the -X value)", got)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// offlineEnv is the environment of a machine with no module proxy.
func offlineEnv() []string {
	return append(os.Environ(), "GOPROXY=off", "GOFLAGS=", "GOWORK=off")
}

// runIn runs a command in dir with no module proxy and fails the test if it fails.
func runIn(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = offlineEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// What `wasmhost new` promises: outside the repository, with no module proxy,
// `wasmhost new greet && wasmhost build greet && (cd greet && go test ./...)`
// succeeds, and the plugin serves (checked with curl).
func TestNewBuildsAndTestsOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasmhost and a plugin")
	}
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	runIn(t, dir, bin, "new", "greet")
	gomod, err := os.ReadFile(filepath.Join(dir, "greet", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"module greet\n", "require github.com/wasmhost/wasmhost/sdk v1.", "=> ./.wasmhost/sdk"} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("greet/go.mod lacks %q:\n%s", want, gomod)
		}
	}
	runIn(t, dir, bin, "build", "greet")
	runIn(t, filepath.Join(dir, "greet"), "go", "test", "./...")

	site := filepath.Join(dir, "site.hcl")
	writeText(t, site, `server { listen = ["127.0.0.1:0"] }
plugin "greet" {
  path  = "greet/greet.wasm"
  mount = "/"
}
`)
	p := testutil.StartWasmhost(t, bin, "run", site)
	if got := curlBody(t, "http://"+p.Addr+"/?name=Ada"); got != "Hello, Ada!\n" {
		t.Errorf("curl ?name=Ada = %q", got)
	}

	// A second new into the same folder must not overwrite the author's work.
	cmd := exec.Command(bin, "new", "greet")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Errorf("wasmhost new over an existing module: err=%v, output %q; want a 'not empty' error", err, out)
	}
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// curlBody fetches url with curl (a client that is not Go's) and returns the body.
func curlBody(t *testing.T, url string) string {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed (.ci/deps installs it)")
		}
		t.Skip("curl is not installed; skipping (apt-get install curl)")
	}
	out, err := exec.Command(path, "-sS", "--max-time", "30", "-f", url).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", url, err, out)
	}
	return string(out)
}

// A plugin named after a standard-library package ("errors", "log") would
// get a module path that names two packages, and never build: new refuses
// it and suggests a name that works; a name that is not a module path
// ("a.") is refused too.
func TestNewRefusesUnbuildableNames(t *testing.T) {
	bin := testutil.Binary(t, "")
	dir := t.TempDir()
	for name, want := range map[string]string{
		"errors": `"errors" is the name of a standard-library package`,
		"log":    `such as "log-plugin"`,
		"a.":     "not a usable plugin name",
	} {
		cmd := exec.Command(bin, "new", name)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("wasmhost new %s: err=%v, output %q; want a refusal saying %q", name, err, out, want)
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("wasmhost new %s left a folder behind", name)
		}
	}
}

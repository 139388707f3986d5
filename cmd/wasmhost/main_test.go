package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

var examples = []string{"hello", "hellogw", "environ", "echo", "stream", "site", "cookie", "errorpage", "auth", "chat"}

func buildExamples(t *testing.T) {
	for _, name := range examples {
		testutil.Plugin(t, "plugins/examples/"+name)
	}
}

// runCLI runs the command in-process and returns its exit code and output.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunExampleSite(t *testing.T) {
	buildExamples(t)
	bin := testutil.Binary(t, "")
	// The example site with absolute plugin paths and the admin listener
	// on a free port, so the test does not depend on port 9901 being free.
	text, err := os.ReadFile(filepath.Join(testutil.Root(), "plugins/examples/site.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testutil.Root(), "plugins/examples")
	site := regexp.MustCompile(`(?m)^(\s*path\s*=\s*")([^"]+)"`).ReplaceAllString(string(text), "${1}"+dir+"/${2}\"")
	site = strings.Replace(site, `"127.0.0.1:9901"`, `"127.0.0.1:0"`, 1)
	p := testutil.StartWasmhost(t, bin, "run", writeSite(t, site), "--listen", "127.0.0.1:0")
	base := "http://" + p.Addr

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "Hello, world\n" {
		t.Errorf("GET / = %q, want Hello, world", b)
	}

	req, _ := http.NewRequest("GET", base+"/env/a/b?x=1", nil)
	req.Header.Set("User-Agent", "curl/8.0")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{"SCRIPT_NAME: /env", "PATH_INFO: /a/b", "QUERY_STRING: x=1",
		"HTTP_USER_AGENT: curl/8.0", "REMOTE_ADDR: 127.0.0.1", "wasmhost.plugin: environ"} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("GET /env/a/b?x=1 lacks %q:\n%s", line, b)
		}
	}

	// The bare-gateway hello, on wazy, as curl sees it.
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-s", "-i", base+"/gw").Output()
		if err != nil || !strings.HasPrefix(string(out), "HTTP/1.1 200") || !strings.HasSuffix(string(out), "\r\n\r\nHello, world\n") ||
			!strings.Contains(string(out), "Content-Type: text/plain; charset=utf-8\r\n") || !strings.Contains(string(out), "Content-Length: 13\r\n") {
			t.Errorf("curl -i /gw: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") == "true" {
		t.Errorf("curl is not installed (CI installs it)")
	}

	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err := p.Wait(30 * time.Second); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0 within 30s; log:\n%s", err, p.Logs.String())
	}
	if logs := p.Logs; !strings.Contains(logs.String(), "GET /env/a/b?x=1: client=127.0.0.1:") {
		t.Errorf("access log line missing; log:\n%s", logs.String())
	}
}

func writeSite(t *testing.T, text string) string {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.hcl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck(t *testing.T) {
	buildExamples(t)
	code, out, errOut := runCLI("check", filepath.Join(testutil.Root(), "plugins/examples/site.hcl"))
	if code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check of the example site: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, name := range examples {
		if !strings.Contains(out, `plugin "`+name+`"`) {
			t.Errorf("check does not report plugin %s:\n%s", name, out)
		}
	}
}

func TestCheckReportsWhereAndWhat(t *testing.T) {
	cases := []struct {
		name, site string
		want       *regexp.Regexp
	}{
		{"malformed", "server {\n  listen = [\"127.0.0.1:8888\"\n}\n", regexp.MustCompile(`site\.hcl:\d+,\d+`)},
		{"bad value", "plugin \"x\" {\n  path = \"x.wasm\"\n  instances = -3\n}\n", regexp.MustCompile(`site\.hcl:3,15-17: `)},
		{"missing plugin file", "plugin \"hello\" {\n  path = \"missing.wasm\"\n}\n",
			regexp.MustCompile(`site\.hcl:2,10-24: plugin "hello" \(.*missing\.wasm\): no such file(.|\n)*: 1 problem\n$`)},
		{"two missing plugin files", "plugin \"a\" {\n  path = \"a.wasm\"\n}\nplugin \"b\" {\n  path  = \"b.wasm\"\n  mount = \"/b\"\n}\n",
			regexp.MustCompile(`: 2 problems\n$`)},
	}
	for _, c := range cases {
		code, _, errOut := runCLI("check", writeSite(t, c.site))
		if code != exitUsage || !c.want.MatchString(errOut) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %s", c.name, code, errOut, c.want)
		}
	}
}

func TestRunInvalidConfigExits2(t *testing.T) {
	code, _, errOut := runCLI("run", writeSite(t, "server {\n  processes = \"many\"\n}\n"))
	if code != exitUsage || !strings.Contains(errOut, "site.hcl:2,") {
		t.Errorf("run with an invalid config: exit %d, stderr %q; want 2 and a diagnostic at line 2", code, errOut)
	}
	if code, _, _ := runCLI("run"); code != exitUsage {
		t.Errorf("run without a file: exit %d, want 2", code)
	}
	if code, _, _ := runCLI("frobnicate"); code != exitUsage {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI("version")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("abi       %d.%d", abi.VersionMajor, abi.VersionMinor)) || !strings.Contains(out, "wazero    v1.") || !strings.Contains(out, "wazy      v0.") || !strings.Contains(out, "go        go1.") {
		t.Errorf("version: exit %d\n%s", code, out)
	}
}

func TestBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "h.wasm")
	code, stdout, stderr := runCLI("build", "-o", out, filepath.Join(testutil.Root(), "plugins/examples/hello"))
	if code != 0 {
		t.Fatalf("build: exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Fatalf("build output %s: %v, not a wasm module", out, err)
	}
	if code, _, stderr := runCLI("build", filepath.Join(t.TempDir(), "nothing-here")); code == 0 || !strings.Contains(stderr, "nothing-here") {
		t.Errorf("build of a missing folder: exit %d, stderr %q", code, stderr)
	}
}

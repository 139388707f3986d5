package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// mountEnv2 rewrites site.hcl as base plus a second environ plugin at
// /env2, and returns a check that /env2 is served by it.
func mountEnv2(t *testing.T, p *pfProc, site string, base pfSite) func() bool {
	grown := base
	grown.Extra = fmt.Sprintf("plugin \"environ2\" {\n  path  = %q\n  mount = \"/env2\"\n}\n", testutil.Plugin(t, "plugins/examples/environ"))
	writePfSite(t, site, grown)
	return func() bool {
		code, body, err := tryGet("http://" + p.Addr + "/env2/x")
		return err == nil && code == 200 && strings.Contains(body, "SCRIPT_NAME: /env2\n")
	}
}

// TestSingleProcessReload: in one process, HUP rereads site.hcl and the
// plugins in place, with no failed request; a broken site.hcl is reported
// and the running site kept.
func TestSingleProcessReload(t *testing.T) {
	bin := testutil.Binary(t, "")
	base := pfSite{Processes: 1}
	p, site := pfStart(t, bin, base)
	load := startLoad("http://"+p.Addr+"/env", 8)
	time.Sleep(500 * time.Millisecond)

	served := mountEnv2(t, p, site, base)
	p.cmd.Process.Signal(syscall.SIGHUP)
	if !eventually(10*time.Second, served) {
		t.Fatalf("after HUP, /env2 is not served; log:\n%s", p.logs.String())
	}

	text, _ := os.ReadFile(site)
	os.WriteFile(site+".tmp", append(text, "bogus = 1\n"...), 0o644)
	os.Rename(site+".tmp", site)
	p.cmd.Process.Signal(syscall.SIGHUP)
	if !eventually(5*time.Second, func() bool { return strings.Contains(p.logs.String(), "site.hcl has errors") }) {
		t.Error("no report of the broken site.hcl in the log")
	}
	if !regexp.MustCompile(`site\.hcl:\d+,\d+-\d+: Unsupported argument`).MatchString(p.logs.String()) {
		t.Error("the report lacks the diagnostic with its position")
	}
	if !served() {
		t.Error("after a HUP with a broken site.hcl, /env2 is no longer served")
	}
	if ok, failed := load.finish(t); failed != 0 || ok < 50 {
		t.Errorf("load across the reloads: %d ok, %d failed; want 0 failed", ok, failed)
	}
}

// TestDebugReloadsSiteInPlace: under debug, editing site.hcl is enough.
func TestDebugReloadsSiteInPlace(t *testing.T) {
	bin := testutil.Binary(t, "")
	p, site := pfStart(t, bin, pfSite{Processes: 1}, "--debug")
	if !eventually(10*time.Second, mountEnv2(t, p, site, pfSite{Processes: 1})) {
		t.Fatalf("under debug an edit of site.hcl is not applied; log:\n%s", p.logs.String())
	}
}

// TestPreforkWorkersSwap: with two workers, replacing a plugin's file makes
// both worker ids serve the new version, with no failed request.
func TestPreforkWorkersSwap(t *testing.T) {
	bin := testutil.Binary(t, "")
	v1 := testutil.PluginVariant(t, "plugins/testplugins/version", "-X main.version=one")
	v2 := testutil.PluginVariant(t, "plugins/testplugins/version", "-X main.version=two")
	live := filepath.Join(t.TempDir(), "live.wasm")
	testutil.CopyFile(t, v1, live)
	p, _ := pfStart(t, bin, pfSite{Processes: 2, Extra: fmt.Sprintf("plugin \"v\" {\n  path  = %q\n  mount = \"/v\"\n}\n", live)})
	load := startLoad("http://"+p.Addr+"/env", 8)

	// A connection per request, so both workers get some.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	getV := func() (string, error) {
		resp, err := fresh.Get("http://" + p.Addr + "/v")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	start := time.Now()
	testutil.CopyFile(t, v2, live)
	seen := map[string]time.Duration{}
	eventually(20*time.Second, func() bool {
		body, err := getV()
		if err == nil && strings.HasPrefix(body, "version two worker ") {
			w := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(body, "version two worker "), "\n", 2)[0])
			if _, ok := seen[w]; !ok {
				seen[w] = time.Since(start)
			}
		}
		return len(seen) == 2
	})
	t.Logf("new version first served by each worker after: %v", seen)
	if len(seen) != 2 {
		t.Fatalf("after the swap only workers %v serve the new version; log:\n%s", seen, p.logs.String())
	}
	// And neither serves the old one any more.
	for i := 0; i < 40; i++ {
		if body, err := getV(); err != nil || !strings.HasPrefix(body, "version two ") {
			t.Fatalf("after both workers swapped, a request got %q (%v)", body, err)
		}
	}
	if ok, failed := load.finish(t); failed != 0 {
		t.Errorf("load during the swap: %d ok, %d failed; want 0 failed", ok, failed)
	}
}

package host_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader"
)

// TestEngineNamesAgree: the names site.hcl accepts are the loader's.
func TestEngineNamesAgree(t *testing.T) {
	if !slices.Equal(config.Engines, loader.Engines()) || config.DefaultEngine != loader.DefaultEngine {
		t.Errorf("config knows %v (default %s), the loader %v (default %s)",
			config.Engines, config.DefaultEngine, loader.Engines(), loader.DefaultEngine)
	}
}

// TestEngineChoiceAndReload: server.engine and a plugin's engine choose
// what runs each plugin, /status and the environ say which, and changing a
// plugin's engine in site.hcl swaps it in place on reload.
func TestEngineChoiceAndReload(t *testing.T) {
	dir := t.TempDir()
	sitePath := filepath.Join(dir, "site.hcl")
	environ := testutil.Plugin(t, "plugins/examples/environ")
	hello := testutil.Plugin(t, "plugins/examples/hello")
	site := func(envEngine string) string {
		return `server { engine = "wazy" }
plugin "hello" {
  path   = "` + hello + `"
}
plugin "environ" {
  path   = "` + environ + `"
  mount  = "/env"
  engine = "` + envEngine + `"
}`
	}
	s := startSite(t, site("wazero"))
	engineOf := func(name string) string {
		for _, p := range s.srv.Status().Plugins {
			if p.Name == name {
				return p.Engine
			}
		}
		return ""
	}
	if got := engineOf("hello"); got != "wazy" {
		t.Errorf("hello runs on %q, want server.engine wazy", got)
	}
	if got := engineOf("environ"); got != "wazero" {
		t.Errorf("environ runs on %q, want its own engine wazero", got)
	}
	if _, body := s.get(t, "/env/"); !strings.Contains(body, "wasmhost.engine: wazero\n") {
		t.Errorf("environ does not say wasmhost.engine: wazero:\n%s", body)
	}
	// /status as JSON through the admin handler carries "engine".
	admin := httptestServer(t, s.srv.AdminHandler())
	resp, err := http.Get(admin + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Plugins []map[string]any `json:"plugins"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if len(st.Plugins) != 2 || st.Plugins[0]["engine"] == nil {
		t.Errorf("/status plugins %v: want an engine for each", st.Plugins)
	}

	helloBefore := s.srv.Plugin("hello")
	os.WriteFile(sitePath, []byte(site("wazy")), 0o644)
	cfg, diags := config.Load(sitePath)
	if diags.HasErrors() {
		t.Fatal(config.FormatDiagnostics(diags))
	}
	if err := s.srv.Reload(context.Background(), host.SiteOf(cfg)); err != nil {
		t.Fatal(err)
	}
	if got := engineOf("environ"); got != "wazy" {
		t.Errorf("after changing its engine and reloading, environ runs on %q, want wazy", got)
	}
	if _, body := s.get(t, "/env/"); !strings.Contains(body, "wasmhost.engine: wazy\n") {
		t.Errorf("environ does not say wasmhost.engine: wazy after the reload:\n%s", body)
	}
	if s.srv.Plugin("hello") != helloBefore {
		t.Errorf("hello, whose block did not change, was reloaded")
	}
}

// TestGatewayHello: the bare-gateway hello answers like hello, on each
// engine: a Content-Length from the host, the Content-Type it set.
func TestGatewayHello(t *testing.T) { forEachEngine(t, testGatewayHello) }

func testGatewayHello(t *testing.T, engine string) {
	s := startEngineSite(t, engine, `plugin "hellogw" {
  path  = "{{hellogw}}"
  mount = "/gw"
}`)
	for i := 0; i < 3; i++ { // the same instance, reused
		resp, body := s.get(t, "/gw/x")
		if resp.StatusCode != 200 || body != "Hello, world\n" || resp.ContentLength != 13 ||
			resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("GET /gw/x: %d %q length %d type %q", resp.StatusCode, body, resp.ContentLength, resp.Header.Get("Content-Type"))
		}
	}
	if st := s.srv.Plugin("hellogw").Stats(); st.Created != 1 || st.Traps != 0 {
		t.Errorf("stats %+v: want one instance serving every request", st)
	}
}

// TestServeAfterShutdownReturns: a Shutdown that comes before Serve has
// started its listeners (a test or a signal right at startup) still stops
// it; it used to leave that listener served forever.
func TestServeAfterShutdownReturns(t *testing.T) {
	cfg, _ := config.Parse([]byte(`server {}`), filepath.Join(t.TempDir(), "site.hcl"))
	l, err := loader.New(loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := host.New(context.Background(), host.Options{Site: host.SiteOf(cfg), Loader: l, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve([]net.Listener{ln}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve after Shutdown still serving after 10s")
	}
}

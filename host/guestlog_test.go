package host_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader"
)

// TestGuestLogLevelsAndFields: with JSON logging, sdk.Logger() records
// keep their level and their attributes are JSON fields; stderr lines
// naming a level keep it; a panic is one entry at error level.
func TestGuestLogLevelsAndFields(t *testing.T) {
	guestLogLevelsAndFields(t, `plugin "logs" { path = "`+testutil.Plugin(t, "plugins/testplugins/logs")+`" }`)
}

// TestGuestLogInChains: a plugin served through middleware logs as it
// does alone: its records keep their level and fields, and what it wrote
// is on the traceback page.
func TestGuestLogInChains(t *testing.T) {
	text := `
server { serve_traceback = true }
plugin "logs" {
  path       = "` + testutil.Plugin(t, "plugins/testplugins/logs") + `"
  middleware = ["gzip"]
}`
	body := guestLogLevelsAndFields(t, text)
	if !strings.Contains(body, "guest output:") || !strings.Contains(body, "structured") || !strings.Contains(body, "panic: deliberate panic") {
		t.Errorf("traceback page without the guest's output:\n%s", body)
	}
}

// guestLogLevelsAndFields serves a request that makes the logs plugin log
// in every way and panic, checks the log, and returns the error page.
func guestLogLevelsAndFields(t *testing.T, text string) string {
	t.Helper()
	site, diags := config.Parse([]byte(text), filepath.Join(t.TempDir(), "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(config.FormatDiagnostics(diags))
	}
	logs := &testutil.LockedBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Name: "wasmhost", Output: logs, Level: hclog.Debug, JSONFormat: true})
	l, err := loader.New(loader.Options{CacheDir: testutil.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	srv, err := host.New(context.Background(), host.Options{Site: host.SiteOf(site), Loader: l, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/a?panic=1", nil))
	if rec.Code != 500 {
		t.Errorf("status %d, want 500 from the panic", rec.Code)
	}
	var entries []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if e["@module"] == "wasmhost.logs" {
			entries = append(entries, e)
		}
	}
	find := func(prefix string) map[string]any {
		for _, e := range entries {
			if m, _ := e["@message"].(string); strings.HasPrefix(m, prefix) {
				return e
			}
		}
		t.Errorf("no log entry starting %q in %v", prefix, entries)
		return map[string]any{}
	}
	if e := find("structured"); e["@level"] != "warn" || e["user"] != "bob" || e["n"] != float64(3) || e["req.path"] != "/a" || e["request_id"] == nil {
		t.Errorf("sdk.Logger record: %v", e)
	}
	if e := find("from slog's default logger"); e["@level"] != "info" {
		t.Errorf("slog default logger line: %v, want info", e)
	}
	if e := find("plain stderr line"); e["@level"] != "error" {
		t.Errorf("ERROR: line: %v, want error", e)
	}
	if e := find("no level here"); e["@level"] != "warn" {
		t.Errorf("plain stderr line: %v, want warn (stderr's level)", e)
	}
	panics := 0
	for _, e := range entries {
		if m, _ := e["@message"].(string); strings.Contains(m, "goroutine") || strings.Contains(m, "panic") {
			panics++
			if !strings.HasPrefix(m, "panic: deliberate panic") || !strings.Contains(m, "main.init") || e["@level"] != "error" {
				t.Errorf("panic entry: %v", e)
			}
		}
	}
	if panics != 1 {
		t.Errorf("the panic made %d log entries, want 1:\n%s", panics, logs.String())
	}
	return rec.Body.String()
}

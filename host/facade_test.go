package host_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/testutil"
	"github.com/wasmhost/wasmhost/loader"
)

// TestNewNeedsASiteAndALoader: zero Options are refused with an error
// naming what is missing, never a panic.
func TestNewNeedsASiteAndALoader(t *testing.T) {
	if _, err := host.New(context.Background(), host.Options{}); err == nil || !strings.Contains(err.Error(), "Site") {
		t.Errorf("New(Options{}) = %v, want an error naming Site", err)
	}
	site := writeSite(t, `plugin "hello" { path = "`+testutil.Plugin(t, "plugins/examples/hello")+`" }`)
	s, err := host.LoadSite(site)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := host.New(context.Background(), host.Options{Site: s}); err == nil || !strings.Contains(err.Error(), "Loader") {
		t.Errorf("New without a Loader = %v, want an error naming Loader", err)
	}
	if _, err := host.New(context.Background(), host.Options{Site: &host.Site{}}); err == nil {
		t.Error("New with a zero Site: no error")
	}
}

// TestLoadSite: a site read by LoadSite serves; one that does not hold
// together is a ConfigError with one line per problem, each at its place
// in the file.
func TestLoadSite(t *testing.T) {
	site, err := host.LoadSite(writeSite(t, `plugin "hello" { path = "`+testutil.Plugin(t, "plugins/examples/hello")+`" }`))
	if err != nil {
		t.Fatal(err)
	}
	l, err := loader.New(loader.Options{CacheDir: testutil.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	srv, err := host.New(context.Background(), host.Options{Site: site, Loader: l})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(context.Background(), nil); err == nil {
		t.Error("Reload(nil): no error")
	}
	if err := srv.Reload(context.Background(), site); err != nil {
		t.Errorf("Reload of the same site: %v", err)
	}
	srv.Shutdown(context.Background())

	bad := writeSite(t, "plugin \"a\" {\n  mount = \"/\"\n}\nplugin \"b\" {\n  path = \"b.wasm\"\n  instances = -1\n}\n")
	_, err = host.LoadSite(bad)
	var ce *host.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) < 2 {
		t.Fatalf("LoadSite of a bad file = %#v, want a ConfigError with two problems or more", err)
	}
	for _, p := range ce.Problems {
		if !strings.HasPrefix(p, bad+":") || strings.Contains(p, "\n") {
			t.Errorf("problem %q: want one line starting %q", p, bad+":")
		}
	}
	if err.Error() != strings.Join(ce.Problems, "\n") {
		t.Errorf("Error() = %q, want the problems one per line", err.Error())
	}
}

func writeSite(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

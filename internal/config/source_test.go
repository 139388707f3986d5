package config

import (
	"strings"
	"testing"
)

func TestPluginSource(t *testing.T) {
	site, _ := mustParse(t, "plugin \"a\" {\n  path   = \"a/a.wasm\"\n  source = \"a\"\n}\nplugin \"b\" {\n  path = \"b.wasm\"\n  mount = \"/b\"\n}\n", "/srv/site/site.hcl")
	if got := site.Plugins[0].Source; got != "/srv/site/a" {
		t.Errorf("source = %q, want /srv/site/a (relative to site.hcl)", got)
	}
	if r := site.Plugins[0].SourceRange; r.Start.Line != 3 {
		t.Errorf("source range starts on line %d, want 3", r.Start.Line)
	}
	if got := site.Plugins[1].Source; got != "" {
		t.Errorf("no source: got %q", got)
	}
	_, diags := Parse([]byte("plugin \"a\" {\n  path   = \"a.wasm\"\n  source = \"\"\n}\n"), "site.hcl")
	if !diags.HasErrors() || !strings.Contains(FormatDiagnostics(diags), "site.hcl:3,") {
		t.Errorf("empty source: want an error at line 3, got %s", FormatDiagnostics(diags))
	}
}

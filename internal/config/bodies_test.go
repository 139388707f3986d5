package config

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func TestBodyReadingSettings(t *testing.T) {
	site, diags := Parse([]byte(`server {
  body_read_ahead     = "16KB"
  min_body_rate       = "1KB/s"
  min_body_rate_grace = "2s"
}
plugin "inherits" {
  path  = "a.wasm"
  mount = "/a"
}
plugin "own" {
  path                = "b.wasm"
  mount               = "/b"
  body_read_ahead     = 0
  min_body_rate       = 100
  min_body_rate_grace = "0s"
}
`), "site.hcl")
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	want := BodyReading{ReadAhead: 16 << 10, MinRate: 1 << 10, MinRateGrace: 2 * time.Second}
	if site.Server.Body != want || site.Plugins[0].Body != want {
		t.Errorf("server %+v, inheriting plugin %+v, want %+v", site.Server.Body, site.Plugins[0].Body, want)
	}
	if own := (BodyReading{ReadAhead: 0, MinRate: 100, MinRateGrace: 0}); site.Plugins[1].Body != own {
		t.Errorf("plugin with its own settings %+v, want %+v", site.Plugins[1].Body, own)
	}
}

func TestBodyReadingErrors(t *testing.T) {
	const tail = "plugin \"zz\" {\n  path  = \"zz.wasm\"\n  mount = \"/zz\"\n}\n"
	for _, c := range []struct {
		name, src string
		line, col int
		summary   string
		detail    string
	}{
		{"read-ahead negative", "server {\n  body_read_ahead = -1\n}\n", 2, 21, "Invalid size", "negative"},
		{"read-ahead unit", "server {\n  body_read_ahead = \"64XB\"\n}\n", 2, 21, "Invalid size", `"XB"`},
		{"rate without per second", "server {\n  min_body_rate = \"240B\"\n}\n", 2, 19, "Invalid rate", `"240B/s"`},
		{"rate bad size", "server {\n  min_body_rate = \"fast/s\"\n}\n", 2, 19, "Invalid rate", "whole number"},
		{"rate bool", "server {\n  min_body_rate = true\n}\n", 2, 19, "Incorrect attribute value type", "rate"},
		{"grace number", "server {\n  min_body_rate_grace = 5\n}\n", 2, 25, "Incorrect attribute value type", "duration"},
		{"grace negative", "server {\n  min_body_rate_grace = \"-1s\"\n}\n", 2, 25, "Invalid duration", ""},
		{"plugin rate", "plugin \"a\" {\n  path = \"a.wasm\"\n  min_body_rate = \"1KB\"\n}\n", 3, 19, "Invalid rate", `plugin "a" min_body_rate`},
	} {
		t.Run(c.name, func(t *testing.T) {
			site, diags := Parse([]byte(c.src+tail), "site.hcl")
			errs := diags.Errs()
			if site != nil || len(errs) != 1 {
				t.Fatalf("want exactly one error, got %d:\n%s", len(errs), FormatDiagnostics(diags))
			}
			d := errs[0].(*hcl.Diagnostic)
			if d.Subject == nil || d.Subject.Start.Line != c.line || d.Subject.Start.Column != c.col {
				t.Errorf("want %d,%d got %s", c.line, c.col, FormatDiagnostics(diags))
			}
			if !strings.Contains(d.Summary, c.summary) || !strings.Contains(d.Detail, c.detail) {
				t.Errorf("want %q / %q, got %s", c.summary, c.detail, FormatDiagnostics(diags))
			}
		})
	}
}

func TestReadAheadPastMaxBodySizeWarns(t *testing.T) {
	src := "server {\n  max_body_size = \"1MB\"\n}\nplugin \"a\" {\n  path = \"a.wasm\"\n  body_read_ahead = \"2MB\"\n}\n"
	site, diags := Parse([]byte(src), "site.hcl")
	if site == nil || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning {
		t.Fatalf("site %v:\n%s", site != nil, FormatDiagnostics(diags))
	}
	if got := FormatDiagnostics(diags); !strings.HasPrefix(got, "site.hcl:6,21-26: Warning: Read-ahead past max_body_size") {
		t.Errorf("got %q", got)
	}
}

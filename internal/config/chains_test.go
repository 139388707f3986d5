package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestChains(t *testing.T) {
	site, diags := mustParse(t, `
plugin "errors"  { path = "e.wasm" }
plugin "session" {
  path       = "s.wasm"
  middleware = ["gzip"]
}
plugin "app" {
  path       = "a.wasm"
  middleware = ["errors", "session", "xsrf"]
}
plugin "other" {
  path  = "o.wasm"
  mount = "/other"
}
`, "site.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	mounts := map[string]string{}
	for _, p := range site.Plugins {
		mounts[p.Name] = p.Mount
	}
	if want := map[string]string{"errors": "", "session": "", "app": "/", "other": "/other"}; !reflect.DeepEqual(mounts, want) {
		t.Errorf("mounts %v, want %v (no mount: chains only when a list names the plugin, else /)", mounts, want)
	}
	if got, want := site.Plugins[2].Chain, []string{"errors", "gzip", "session", "xsrf"}; !reflect.DeepEqual(got, want) {
		t.Errorf("app's chain %v, want %v", got, want)
	}
	if got := site.Plugins[1].Chain; !reflect.DeepEqual(got, []string{"gzip"}) {
		t.Errorf("session's own chain %v, want [gzip]", got)
	}
}

func TestChainErrors(t *testing.T) {
	for _, c := range []struct {
		name, src string
		line, col int
		summary   string
		detail    string
	}{
		{"unknown", "plugin \"a\" {\n  path = \"a.wasm\"\n  middleware = [\"nope\"]\n}\n", 3, 17, "Unknown middleware", `"nope" is neither a plugin`},
		{"itself", "plugin \"a\" {\n  path = \"a.wasm\"\n  middleware = [\"a\"]\n}\n", 3, 17, "Middleware cycle", "names itself"},
		{"cycle", "plugin \"a\" {\n  path = \"a.wasm\"\n  mount = \"/a\"\n  middleware = [\"b\"]\n}\nplugin \"b\" {\n  path = \"b.wasm\"\n  middleware = [\"a\"]\n}\n", 8, 17, "Middleware cycle", "a → b → a"},
		{"repeated", "plugin \"m\" { path = \"m.wasm\" }\nplugin \"n\" {\n  path = \"n.wasm\"\n  middleware = [\"m\"]\n}\nplugin \"a\" {\n  path = \"a.wasm\"\n  middleware = [\"m\", \"n\"]\n}\n", 8, 17, "Middleware repeated", `"m" comes twice`},
		{"reserved name", "plugin \"gzip\" { path = \"g.wasm\" }\n", 1, 1, "Reserved plugin name", "built-in"},
		{"not a list", "plugin \"a\" {\n  path = \"a.wasm\"\n  middleware = \"gzip\"\n}\n", 3, 16, "Incorrect attribute value type", "list of strings"},
		{"short secret", "server {\n  cookie_secret = \"short\"\n}\n", 2, 19, "Cookie secret too short", "at least 16 bytes"},
		{"previous alone", "server {\n  cookie_secret_previous = \"0123456789abcdef0123\"\n}\n", 2, 28, "Missing cookie_secret", ""},
		{"max age", "server {\n  cookie_max_age = \"0s\"\n}\n", 2, 20, "Invalid duration", "cookie_max_age"},
		{"scope with a bar", "plugin \"a\" {\n  path = \"a.wasm\"\n  cookie_scope = \"x|y\"\n}\n", 3, 18, "Invalid cookie scope", `cookie_scope "x|y": the name may contain only`},
		{"empty scope", "plugin \"a\" {\n  path = \"a.wasm\"\n  cookie_scope = \"\"\n}\n", 3, 18, "Invalid cookie scope", "must not be empty"},
		{"long scope", "plugin \"a\" {\n  path = \"a.wasm\"\n  cookie_scope = \"" + strings.Repeat("s", 65) + "\"\n}\n", 3, 18, "Invalid cookie scope", "at most 64 bytes"},
		{"scope not a string", "plugin \"a\" {\n  path = \"a.wasm\"\n  cookie_scope = [\"s\"]\n}\n", 3, 18, "Incorrect attribute value type", "cookie_scope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := Parse([]byte(c.src), "site.hcl")
			for _, d := range diags {
				if d.Summary == c.summary && d.Subject != nil && d.Subject.Start.Line == c.line && d.Subject.Start.Column == c.col && strings.Contains(d.Detail, c.detail) {
					if strings.Contains(d.Detail, "short\"") {
						t.Errorf("the diagnostic shows the secret: %s", d.Detail)
					}
					return
				}
			}
			t.Errorf("want %q at %d,%d containing %q; got %s", c.summary, c.line, c.col, c.detail, FormatDiagnostics(diags))
		})
	}
}

func TestCookieSettings(t *testing.T) {
	site, diags := mustParse(t, `server {
  cookie_secret          = "0123456789abcdef-current"
  cookie_secret_previous = "0123456789abcdef-previous"
  cookie_max_age         = "1h"
}`, "site.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s := site.Server
	if s.CookieSecret.Reveal() != "0123456789abcdef-current" || s.CookieSecretPrev.Reveal() != "0123456789abcdef-previous" || s.CookieMaxAge != time.Hour {
		t.Errorf("cookie settings %q %q %v", s.CookieSecret.Reveal(), s.CookieSecretPrev.Reveal(), s.CookieMaxAge)
	}
	for _, text := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%v", site)} {
		if strings.Contains(text, "abcdef") {
			t.Errorf("a printed config shows the secret: %s", text)
		}
	}
}

func TestCookieScopes(t *testing.T) {
	site, diags := mustParse(t, `
plugin "auth" {
  path         = "auth.wasm"
  cookie_scope = "session"
}
plugin "app" {
  path         = "app.wasm"
  cookie_scope = "session"
  middleware   = ["auth"]
}
plugin "other" {
  path  = "other.wasm"
  mount = "/other"
}
`, "site.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := map[string]string{}
	for _, p := range site.Plugins {
		got[p.Name] = p.CookieScope
	}
	if want := map[string]string{"auth": "session", "app": "session", "other": "other"}; !reflect.DeepEqual(got, want) {
		t.Errorf("cookie scopes %v, want %v (default: the plugin's own name)", got, want)
	}
}

// A plugin without a mount that no list names is mounted at "/" only if it
// is a handler: a middleware gets no mount and a warning, so removing the
// last chain through it does not make it collide with the site's "/"; two
// such handlers still collide.
func TestCheckKindsSettlesDefaultMounts(t *testing.T) {
	const src = `
plugin "app" {
  path  = "a.wasm"
  mount = "/"
}
plugin "auth" { path = "m.wasm" }
`
	site, diags := mustParse(t, src, "site.hcl")
	if diags.HasErrors() {
		t.Fatalf("a middleware without a mount beside a handler at /: %s", FormatDiagnostics(diags))
	}
	isMW := func(mw ...string) func(string) (bool, bool) {
		return func(name string) (bool, bool) { return slices.Contains(mw, name), true }
	}
	diags = CheckKinds(site, isMW("auth"))
	if diags.HasErrors() || len(diags) != 1 || diags[0].Summary != "Unused middleware" || diags[0].Subject.Start.Line != 6 {
		t.Errorf("CheckKinds: %q; want one warning, Unused middleware at line 6", FormatDiagnostics(diags))
	}
	if m := site.Plugins[1].Mount; m != "" {
		t.Errorf("the unused middleware is mounted at %q, want no mount", m)
	}

	site, _ = mustParse(t, src, "site.hcl")
	diags = CheckKinds(site, isMW())
	if len(diags.Errs()) != 1 || diags[0].Summary != "Duplicate mount" || diags[0].Subject.Start.Line != 6 {
		t.Errorf("CheckKinds with auth a handler: %q; want Duplicate mount at line 6", FormatDiagnostics(diags))
	}
	site, _ = mustParse(t, "plugin \"a\" { path = \"a.wasm\" }\nplugin \"b\" { path = \"b.wasm\" }\n", "site.hcl")
	diags = CheckKinds(site, func(string) (bool, bool) { return false, false }) // neither loaded
	if len(diags.Errs()) != 1 || diags[0].Summary != "Duplicate mount" || diags[0].Subject.Start.Line != 2 {
		t.Errorf("two plugins without a mount, kinds unknown: %q; want Duplicate mount at line 2", FormatDiagnostics(diags))
	}
}

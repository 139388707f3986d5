package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// Every case must produce exactly one error, at exactly this position: the
// position is what `wasmhost check` users navigate by.
func TestErrorPositions(t *testing.T) {
	// Appended to every source so that "no plugins" never adds a warning and
	// line numbers in the cases stay those of the case itself.
	const tail = "plugin \"zz\" {\n  path  = \"zz.wasm\"\n  mount = \"/zz\"\n}\n"
	const tls = "server {\n  tls {\n    cert = \"c\"\n    key = \"k\"\n  }\n"
	pl := func(body string) string { return "plugin \"a\" {\n  path = \"a.wasm\"\n" + body + "\n}\n" }
	sv := func(body string) string { return "server {\n" + body + "\n}\n" }
	st := func(body string) string { return "static {\n" + body + "\n}\n" }

	for _, c := range []struct {
		name, src string
		line, col int
		summary   string
		detail    string // substring, optional
	}{
		// Duplicates point at the second declaration and say where the first is.
		{"duplicate server", "server {}\nserver {}\n", 2, 1, "Duplicate server block", "site.hcl:1,1-7"},
		{"duplicate admin", "admin {}\nstatic {}\nadmin {}\n", 3, 1, "Duplicate admin block", "site.hcl:1,1-6"},
		{"duplicate static", "static {}\n\nstatic {}\n", 3, 1, "Duplicate static block", "site.hcl:1,1-7"},
		{"duplicate tls", tls + "  tls {\n    cert = \"c\"\n    key = \"k\"\n  }\n}\n", 6, 3, "Duplicate tls block", "site.hcl:2,3-6"},
		{"duplicate plugin name", "plugin \"a\" {\n  path = \"a.wasm\"\n  mount = \"/a\"\n}\nplugin \"a\" {\n  path = \"b.wasm\"\n  mount = \"/b\"\n}\n", 5, 1, "Duplicate plugin name", "site.hcl:1,1-11"},
		{"duplicate mount", "plugin \"a\" {\n  path = \"a.wasm\"\n  mount = \"/x/\"\n}\nplugin \"b\" {\n  path = \"b.wasm\"\n  mount = \"/x\"\n}\n", 7, 11, "Duplicate mount", "site.hcl:3,11-16"},
		{"duplicate listen", sv(`  listen = [":80", ":80"]`), 2, 20, "Duplicate listen address", "site.hcl:2,13-18"},
		{"duplicate listen normalized", sv(`  listen = ["[::1]:80", "[0:0::1]:080"]`), 2, 25, "Duplicate listen address", ""},
		{"duplicate root file", st(`  root_files = ["a", "a"]`), 2, 22, "Duplicate root file", "site.hcl:2,17-20"},
		{"duplicate env key", pl(`  env = { A = "1", A = "2" }`), 3, 20, "Duplicate environment variable", "site.hcl:3,11-12"},

		// Missing required arguments point at the block header.
		{"missing plugin path", "plugin \"a\" {\n  mount = \"/a\"\n}\n", 1, 1, "Missing required argument", "path"},
		{"missing tls cert", sv("  tls {\n    key = \"k\"\n  }"), 2, 3, "Missing required argument", "cert"},
		{"missing tls key", sv(`  tls { cert = "c" }`), 2, 3, "Missing required argument", "key"},
		{"missing plugin name", "plugin {\n}\n", 1, 8, "Missing name for plugin", ""},

		// Unknown names, from HCL's schema check.
		{"unknown server argument", sv(`  listne = ["a:1"]`), 2, 3, "Unsupported argument", `"listne"`},
		{"unknown top-level block", "sever {\n}\n", 1, 1, "Unsupported block type", ""},
		{"unknown top-level argument", "debug = true\n", 1, 1, "Unsupported argument", ""},
		{"block where argument expected", pl("  env {\n  }"), 3, 3, "Unsupported block type", ""},
		{"unknown admin argument", "admin {\n  port = 1\n}\n", 2, 3, "Unsupported argument", ""},

		// Engines: the value, and the choices.
		{"unknown server engine", sv(`  engine = "v8"`), 2, 12, "Unknown engine", `"wazero", "wazy"`},
		{"unknown plugin engine", pl(`  engine = "Wazy"`), 3, 12, "Unknown engine", `plugin "a" engine "Wazy"`},

		// Types: the Subject is the value's expression.
		{"processes string", sv(`  processes = "4"`), 2, 15, "Incorrect attribute value type", "whole number"},
		{"debug string", sv(`  debug = "yes"`), 2, 11, "Incorrect attribute value type", "true or false"},
		{"listen not a list", sv(`  listen = "127.0.0.1:80"`), 2, 12, "Incorrect attribute value type", "list of strings"},
		{"listen element number", sv(`  listen = [8080]`), 2, 13, "Incorrect attribute value type", "element 0"},
		{"duration number", sv(`  shutdown_timeout = 30`), 2, 22, "Incorrect attribute value type", `"10s"`},
		{"size bool", sv(`  max_body_size = true`), 2, 19, "Incorrect attribute value type", ""},
		{"static hash_cache string", st(`  hash_cache = "yes"`), 2, 16, "Incorrect attribute value type", ""},
		{"plugin path number", "plugin \"a\" {\n  path = 5\n}\n", 2, 10, "Incorrect attribute value type", "string"},
		{"instances string", pl(`  instances = "16"`), 3, 15, "Incorrect attribute value type", ""},
		{"timeout number", pl(`  timeout = 10`), 3, 13, "Incorrect attribute value type", ""},
		{"env string", pl(`  env = "A=1"`), 3, 9, "Incorrect attribute value type", "object"},
		{"env value number", pl(`  env = { A = 1 }`), 3, 15, "Incorrect attribute value type", `"A"`},
		{"null", sv(`  debug = null`), 2, 11, "Invalid value", "null"},
		{"variable", sv(`  processes = var.n`), 2, 15, "Variables not allowed", ""},
		{"unknown function", sv(`  listen = [upper("a:1")]`), 2, 13, "Call to unknown function", `"upper"`},

		// Values.
		{"processes negative", sv(`  processes = -1`), 2, 15, "Invalid value", "between 0 and 1024, not -1"},
		{"processes fraction", sv(`  processes = 1.5`), 2, 15, "Invalid value", "whole number"},
		{"processes huge", sv(`  processes = 5000`), 2, 15, "Invalid value", "between 0 and 1024"},
		{"listen no port", sv(`  listen = ["127.0.0.1:80", "localhost"]`), 2, 29, "Invalid listen address", "missing port"},
		{"listen port range", sv(`  listen = [":99999"]`), 2, 13, "Invalid listen address", "0..65535"},
		{"listen named port", sv(`  listen = ["localhost:http"]`), 2, 13, "Invalid listen address", "number"},
		{"listen empty", sv(`  listen = []`), 2, 12, "Invalid value", "empty"},
		{"trusted proxy name", sv(`  trusted_proxies = ["localhost"]`), 2, 22, "Invalid trusted proxy", "localhost"},
		{"trusted proxy bits", sv(`  trusted_proxies = ["10.0.0.0/33"]`), 2, 22, "Invalid trusted proxy", ""},
		{"duration negative", sv(`  shutdown_timeout = "-1s"`), 2, 22, "Invalid duration", "negative"},
		{"duration no unit", sv(`  shutdown_timeout = "30"`), 2, 22, "Invalid duration", `"30"`},
		{"duration garbage", sv(`  read_timeout = "soon"`), 2, 18, "Invalid duration", ""},
		{"size fraction", sv(`  max_body_size = "1.5MB"`), 2, 19, "Invalid size", "fractions"},
		{"size unit", sv(`  max_body_size = "10XB"`), 2, 19, "Invalid size", `"XB"`},
		{"size negative number", sv(`  max_body_size = -1`), 2, 19, "Invalid size", "negative"},
		{"max_header_bytes zero", sv(`  max_header_bytes = "0"`), 2, 22, "Invalid size", ""},
		{"tls cert empty", sv("  tls {\n    cert = \"\"\n    key  = \"k\"\n  }"), 3, 12, "Invalid path", "empty"},
		{"tls key wrong type", sv("  tls {\n    cert = \"c\"\n    key  = 1\n  }"), 4, 12, "Incorrect attribute value type", ""},
		{"admin listen", "admin {\n  listen = \"9901\"\n}\n", 2, 12, "Invalid listen address", ""},
		{"admin listen clash", sv(`  listen = ["127.0.0.1:8000"]`) + "admin {\n  listen = \"127.0.0.1:8000\"\n}\n", 5, 12, "Admin address in use", ""},
		{"url_prefix relative", st(`  url_prefix = "static/"`), 2, 16, "Invalid URL prefix", `start with "/"`},
		{"url_prefix no slash", st(`  url_prefix = "/static"`), 2, 16, "Invalid URL prefix", `end with "/"`},
		{"url_prefix dotdot", st(`  url_prefix = "/a/../b/"`), 2, 16, "Invalid URL prefix", ".."},
		{"root file slash", st(`  root_files = ["ok.txt", "a/b.txt"]`), 2, 27, "Invalid root file", ""},
		{"root file dotdot", st(`  root_files = [".."]`), 2, 17, "Invalid root file", ""},
		{"static path empty", st(`  path = ""`), 2, 10, "Invalid path", ""},
		{"plugin name", "plugin \"he llo\" {\n  path = \"a.wasm\"\n}\n", 1, 8, "Invalid plugin name", `' '`},
		{"plugin path empty", "plugin \"a\" {\n  path = \"\"\n}\n", 2, 10, "Invalid path", ""},
		{"mount relative", pl(`  mount = "api"`), 3, 11, "Invalid mount", `start with "/"`},
		{"mount double slash", pl(`  mount = "/a//b"`), 3, 11, "Invalid mount", `"//"`},
		{"mount dotdot", pl(`  mount = "/a/../b"`), 3, 11, "Invalid mount", ".."},
		{"mount dot", pl(`  mount = "/./a"`), 3, 11, "Invalid mount", ""},
		{"mount query", pl(`  mount = "/a?b"`), 3, 11, "Invalid mount", ""},
		{"instances zero", pl(`  instances = 0`), 3, 15, "Invalid value", "between 1 and 10000"},
		{"instances too many", pl(`  instances = 10001`), 3, 15, "Invalid value", ""},
		{"timeout zero", pl(`  timeout = "0s"`), 3, 13, "Invalid duration", "more than 0"},
		{"memory too small", pl(`  memory_limit = "1MB"`), 3, 18, "Invalid memory limit", "1MB"},
		{"memory too large", pl(`  memory_limit = "5GB"`), 3, 18, "Invalid memory limit", ""},
		{"memory garbage", pl(`  memory_limit = "lots"`), 3, 18, "Invalid size", ""},
		{"env key with =", pl(`  env = { "A=B" = "x" }`), 3, 11, "Invalid environment variable name", `"="`},
		{"env key empty", pl(`  env = { "" = "x" }`), 3, 11, "Invalid environment variable name", ""},
		{"env value NUL", pl(`  env = { A = "x\u0000" }`), 3, 15, "Invalid environment variable value", "NUL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			site, diags := Parse([]byte(c.src+tail), "site.hcl")
			errs := diags.Errs()
			if site != nil || len(errs) != 1 {
				t.Fatalf("want exactly one error, got %d (site %v):\n%s\nsource:\n%s", len(errs), site != nil, FormatDiagnostics(diags), c.src)
			}
			d := errs[0].(*hcl.Diagnostic)
			if d.Subject == nil || d.Subject.Start.Line != c.line || d.Subject.Start.Column != c.col {
				t.Errorf("want %d,%d got %s", c.line, c.col, FormatDiagnostics(diags))
			}
			if d.Subject != nil && d.Subject.Filename != "site.hcl" {
				t.Errorf("filename %q", d.Subject.Filename)
			}
			if !strings.Contains(d.Summary, c.summary) || !strings.Contains(d.Detail, c.detail) {
				t.Errorf("want %q / %q, got %s", c.summary, c.detail, FormatDiagnostics(diags))
			}
			if out, pre := FormatDiagnostics(diags), fmt.Sprintf("site.hcl:%d,%d", c.line, c.col); !strings.HasPrefix(out, pre) {
				t.Errorf("output %q does not start with %q", out, pre)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	src := "server {\n  xheaders = true\n  trusted_proxies = []\n}\nplugin \"a\" {\n  path = \"a.wasm\"\n}\n"
	site, diags := Parse([]byte(src), "site.hcl")
	if site == nil || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning {
		t.Fatalf("site %v:\n%s", site != nil, FormatDiagnostics(diags))
	}
	if got := FormatDiagnostics(diags); !strings.HasPrefix(got, "site.hcl:3,21-23: Warning: No trusted proxies; ") {
		t.Errorf("got %q", got)
	}
}

func TestDirsGrants(t *testing.T) {
	site, diags := Parse([]byte(`plugin "p" {
  path = "p.wasm"
  dirs = { "/data" = "data", "/scratch" = "/var/tmp/s:rw", "/ro" = "x:ro" }
}
`), "/srv/site.hcl")
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	got := map[string]Dir{}
	for _, d := range site.Plugins[0].Dirs {
		d.Range = hcl.Range{}
		got[d.Guest] = d
	}
	want := map[string]Dir{
		"/data":    {Guest: "/data", Host: "/srv/data"},
		"/scratch": {Guest: "/scratch", Host: "/var/tmp/s", Writable: true},
		"/ro":      {Guest: "/ro", Host: "/srv/x"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dirs = %+v, want %+v", got, want)
	}
	for _, bad := range []string{`{ "data" = "x" }`, `{ "/a/../b" = "x" }`, `{ "/a" = ":rw" }`} {
		_, diags := Parse([]byte("plugin \"p\" {\n  path = \"p.wasm\"\n  dirs = "+bad+"\n}\n"), "site.hcl")
		if !diags.HasErrors() || diags.Errs()[0].(*hcl.Diagnostic).Subject.Start.Line != 3 {
			t.Errorf("dirs = %s: want an error at line 3, got %s", bad, FormatDiagnostics(diags))
		}
	}
}

func TestListenSchemes(t *testing.T) {
	const tlsBlock = "  tls {\n    cert = \"c.pem\"\n    key = \"k.pem\"\n  }\n"
	cases := []struct {
		src     string
		addrs   []string
		tls     []bool
		errLine int
	}{
		{"server {\n  listen = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n}\n", []string{"127.0.0.1:1", "127.0.0.1:2"}, []bool{false, false}, 0},
		{"server {\n  listen = [\"127.0.0.1:1\"]\n" + tlsBlock + "}\n", []string{"127.0.0.1:1"}, []bool{true}, 0},
		{"server {\n  listen = [\"http://127.0.0.1:1\", \"https://127.0.0.1:2\"]\n" + tlsBlock + "}\n", []string{"127.0.0.1:1", "127.0.0.1:2"}, []bool{false, true}, 0},
		{"server {\n  listen = [\"https://127.0.0.1:2\"]\n}\n", nil, nil, 2},
	}
	for _, c := range cases {
		site, diags := Parse([]byte(c.src+"plugin \"p\" { path = \"p.wasm\" }\n"), "site.hcl")
		if c.errLine != 0 {
			if !diags.HasErrors() || diags.Errs()[0].(*hcl.Diagnostic).Subject.Start.Line != c.errLine {
				t.Errorf("%q: want an error at line %d, got %s", c.src, c.errLine, FormatDiagnostics(diags))
			}
			continue
		}
		if diags.HasErrors() {
			t.Errorf("%q: %s", c.src, FormatDiagnostics(diags))
			continue
		}
		if !reflect.DeepEqual(site.Server.Listen, c.addrs) || !reflect.DeepEqual(site.Server.ListenTLS, c.tls) {
			t.Errorf("%q: listen %v tls %v, want %v %v", c.src, site.Server.Listen, site.Server.ListenTLS, c.addrs, c.tls)
		}
	}
}

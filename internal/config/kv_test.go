package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvFunction(t *testing.T) {
	t.Setenv("WASMHOST_TEST_KEY", "s3cret")
	t.Setenv("WASMHOST_TEST_EMPTY", "")
	src := `plugin "a" {
  path = "a.wasm"
  env  = { API_KEY = env("WASMHOST_TEST_KEY"), OPT = env("WASMHOST_TEST_UNSET", "fallback"), E = env("WASMHOST_TEST_EMPTY", "x") }
}
`
	site, diags := Parse([]byte(src), "site.hcl")
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	env := site.Plugins[0].Env
	if env["API_KEY"] != "s3cret" || env["OPT"] != "fallback" || env["E"] != "" {
		t.Fatalf("env = %q", env)
	}

	t.Setenv("WASMHOST_TEST_SECRET_TIMEOUT", "hunter2")
	src = "plugin \"a\" {\n  path = \"a.wasm\"\n  env = { K = env(\"WASMHOST_TEST_MISSING\") }\n  timeout = env(\"WASMHOST_TEST_SECRET_TIMEOUT\")\n}\n"
	_, diags = Parse([]byte(src), "site.hcl")
	out := FormatDiagnostics(diags)
	if !strings.Contains(out, "site.hcl:3,15-") || !strings.Contains(out, `"WASMHOST_TEST_MISSING" is not set`) {
		t.Errorf("missing variable: %s", out)
	}
	if !strings.Contains(out, "site.hcl:4,13-") {
		t.Errorf("bad timeout from env not reported at its position: %s", out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("a diagnostic shows the value of an environment variable: %s", out)
	}
}

func TestKVAndOutbound(t *testing.T) {
	src := `kv "default" {}
kv "shared" {
  backend = "redis"
  url     = "redis://127.0.0.1:6379/0"
}
kv "other" {
  path    = "data/o.db"
  timeout = "250ms"
}
outbound { ca_file = "ca.pem" }
plugin "a" {
  path          = "a.wasm"
  kv            = ["default", "shared", "default"]
  allowed_hosts = ["https://api.example.com", "http://127.0.0.1:9000", "https://*.example.org"]
}
`
	site, diags := Parse([]byte(src), "/srv/site.hcl")
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	if len(site.KV) != 3 {
		t.Fatalf("KV = %+v", site.KV)
	}
	if s := site.KV[0]; s.Backend != "sqlite" || s.Path != "/srv/default.kv" {
		t.Errorf("default store = %+v", s)
	}
	if s := site.KV[1]; s.Backend != "redis" || s.URL != "redis://127.0.0.1:6379/0" {
		t.Errorf("redis store = %+v", s)
	}
	if s := site.KV[2]; s.Path != filepath.FromSlash("/srv/data/o.db") || s.Timeout != 250*time.Millisecond {
		t.Errorf("path = %q, timeout %s", s.Path, s.Timeout)
	}
	if s := site.KV[0]; s.Timeout != DefaultKVTimeout {
		t.Errorf("default timeout = %s, want %s", s.Timeout, DefaultKVTimeout)
	}
	if site.Outbound == nil || site.Outbound.CAFile != "/srv/ca.pem" {
		t.Errorf("outbound = %+v", site.Outbound)
	}
	p := site.Plugins[0]
	if !slices.Equal(p.KV, []string{"default", "shared"}) {
		t.Errorf("grants = %q", p.KV)
	}
	if len(p.AllowedHosts) != 3 || p.AllowedHosts[2].String() != "https://*.example.org:443" {
		t.Errorf("allowed_hosts = %v", p.AllowedHosts)
	}
}

func TestKVErrors(t *testing.T) {
	for _, c := range []struct{ name, src, want string }{
		{"unknown store", "kv \"a\" {}\nplugin \"p\" {\n  path = \"p.wasm\"\n  kv = [\"a\", \"b\"]\n}\n", `site.hcl:4,14-17: Unknown key-value store`},
		{"bad backend", "kv \"a\" {\n  backend = \"mongo\"\n}\n", `site.hcl:2,13-20: Unknown key-value backend`},
		{"redis without url", "kv \"a\" { backend = \"redis\" }\n", `site.hcl:1,1-7: Missing required argument`},
		{"redis bad url", "kv \"a\" {\n  backend = \"redis\"\n  url = \"http://x\"\n}\n", `site.hcl:3,9-19: Invalid redis url`},
		{"timeout not a duration", "kv \"a\" {\n  timeout = 2\n}\n", `site.hcl:2,13-14:`},
		{"zero timeout", "kv \"a\" {\n  timeout = \"0s\"\n}\n", `site.hcl:2,13-17: Invalid duration`},
		{"duplicate store", "kv \"a\" {}\nkv \"a\" {}\n", `site.hcl:2,1-7: Duplicate kv block`},
		{"malformed allowed host", "plugin \"p\" {\n  path = \"p.wasm\"\n  allowed_hosts = [\"https://ok.org\", \"api.example.com\"]\n}\n", `site.hcl:3,38-55: Invalid allowed_hosts entry`},
		{"allowed host with path", "plugin \"p\" {\n  path = \"p.wasm\"\n  allowed_hosts = [\"https://x.org/v1\"]\n}\n", `site.hcl:3,20-38: Invalid allowed_hosts entry`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := Parse([]byte(c.src), "site.hcl")
			out := FormatDiagnostics(diags)
			if !diags.HasErrors() || !strings.Contains(out, c.want) {
				t.Errorf("got:\n%s\nwant a line containing %q", out, c.want)
			}
			if n := len(diags.Errs()); n != 1 {
				t.Errorf("%d errors, want 1:\n%s", n, out)
			}
		})
	}
}

func TestKVURLFromEnv(t *testing.T) {
	t.Setenv("WASMHOST_TEST_REDIS_URL", "redis://:pa55word@10.0.0.5:6379/1")
	site, diags := Parse([]byte("kv \"s\" {\n  backend = \"redis\"\n  url = env(\"WASMHOST_TEST_REDIS_URL\")\n}\n"), "site.hcl")
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	if site.KV[0].URL != "redis://:pa55word@10.0.0.5:6379/1" {
		t.Errorf("url = %q", site.KV[0].URL)
	}
	t.Setenv("WASMHOST_TEST_REDIS_URL", "http://:pa55word@x")
	_, diags = Parse([]byte("kv \"s\" {\n  backend = \"redis\"\n  url = env(\"WASMHOST_TEST_REDIS_URL\")\n}\n"), "site.hcl")
	if out := FormatDiagnostics(diags); !strings.Contains(out, "site.hcl:3,9-") || strings.Contains(out, "pa55word") {
		t.Errorf("a bad url from env: %s", out)
	}
}

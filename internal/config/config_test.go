package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// contractExample is the full example of site.hcl that wasmhost promises to
// read: every setting users may write, with its default or a typical value
// and its comment, kept verbatim (a setting renamed or dropped breaks a
// site that users already have), including a one-line tls block with two
// arguments.
const contractExample = `server {
  listen           = ["127.0.0.1:8888"]   # default
  processes        = 1                    # 0 = one worker per CPU; 1 = no master process
  reuse_port       = false                # SO_REUSEPORT, to run independent copies on one port
  xheaders         = false                # trust X-Real-IP / X-Forwarded-For / X-Scheme / X-Forwarded-Proto ...
  trusted_proxies  = ["127.0.0.1/32", "::1/128"]  # ... only from these peers
  debug            = false                # turns on the four flags below unless each is set
  autoreload       = true                 # plugins: swap in place when the .wasm changes; debug: site.hcl too
  serve_traceback  = false                # 500 pages show the guest's panic and wasm stack trace
  shutdown_timeout = "30s"
  max_body_size    = "10MB"               # 413 above it
  tls {                                   # optional; HTTP/2 over TLS
    cert = "cert.pem"
    key  = "key.pem"
  }
}

admin {                                   # optional; never on a public address by default
  listen = "127.0.0.1:9901"               # GET /status (JSON), GET /metrics (Prometheus text)
}

static {
  path       = "static"
  url_prefix = "/static/"
  hash_cache = true                       # false under debug
  root_files = ["apple-touch-icon.png"]   # served at the root, besides robots.txt and favicon.ico
}

plugin "hello" {
  path         = "plugins/examples/hello/hello.wasm"
  mount        = "/"                      # longest mount prefix wins, on path-segment boundaries
  instances    = 16                       # most warm instances per worker; requests beyond wait (bounded)
  timeout      = "10s"                    # per request, wall clock; the guest is stopped after it
  memory_limit = "128MB"                  # linear memory cap per instance
  env          = { GREETING = "hi" }      # extra environ entries for this plugin
}
`

func mustParse(t *testing.T, src, filename string) (*Site, hcl.Diagnostics) {
	t.Helper()
	site, diags := Parse([]byte(src), filename)
	if diags.HasErrors() || site == nil {
		t.Fatalf("unexpected errors:\n%s", FormatDiagnostics(diags))
	}
	return site, diags
}

func defaultServer() Server {
	return Server{
		Listen:            []string{"127.0.0.1:8888"},
		ListenTLS:         []bool{false},
		Processes:         1,
		TrustedProxies:    []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")},
		Autoreload:        true,
		ShutdownTimeout:   30 * time.Second,
		MaxBodySize:       10 << 20,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxURLLength:      8 << 10,
		CacheSize:         4 << 30,
		Engine:            "wazero",
		CookieMaxAge:      744 * time.Hour,
		Body:              BodyReading{ReadAhead: 64 << 10, MinRate: 240, MinRateGrace: 5 * time.Second},
	}
}

func TestDefaults(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "server {}\n", "server {\n}\n"} {
		site, diags := mustParse(t, src, "/srv/site/site.hcl")
		if site.File != "/srv/site/site.hcl" || site.Dir != "/srv/site" {
			t.Errorf("%q: File %q Dir %q", src, site.File, site.Dir)
		}
		if !reflect.DeepEqual(site.Server, defaultServer()) {
			t.Errorf("%q: server\n got %+v\nwant %+v", src, site.Server, defaultServer())
		}
		if site.Admin != nil || site.Static != nil || site.Plugins == nil || len(site.Plugins) != 0 {
			t.Errorf("%q: admin %v static %v plugins %#v", src, site.Admin, site.Static, site.Plugins)
		}
		// No plugins is valid but almost certainly not what the user meant.
		if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Summary, "No plugin blocks") {
			t.Errorf("%q: want one no-plugin warning, got:\n%s", src, FormatDiagnostics(diags))
		}
		if got := FormatDiagnostics(diags); got != "/srv/site/site.hcl:1,1-1: Warning: No plugin blocks; Every request outside static files will be 404.\n" {
			t.Errorf("%q: warning text %q", src, got)
		}
	}
}

func TestBlockDefaults(t *testing.T) {
	site, _ := mustParse(t, "admin {}\nstatic {}\nplugin \"p\" {\n  path = \"p.wasm\"\n}\n", "/srv/site.hcl")
	if *site.Admin != (Admin{Listen: "127.0.0.1:9901"}) {
		t.Errorf("admin %+v", site.Admin)
	}
	wantStatic := Static{Path: "/srv/static", URLPrefix: "/static/", HashCache: true, RootFiles: []string{}}
	gotStatic := *site.Static
	gotStatic.PathRange = hcl.Range{} // a position, not a value
	if !reflect.DeepEqual(gotStatic, wantStatic) {
		t.Errorf("static %+v", site.Static)
	}
	p := site.Plugins[0]
	if p.Name != "p" || p.Path != "/srv/p.wasm" || p.Mount != "/" || p.Instances != 16 ||
		p.Timeout != 10*time.Second || p.MemoryLimit != 128<<20 || p.Env == nil || len(p.Env) != 0 || p.Engine != "wazero" {
		t.Errorf("plugin %+v", p)
	}
}

// TestEngine: server.engine is every plugin's default, a plugin's own
// engine wins.
func TestEngine(t *testing.T) {
	site, diags := mustParse(t, "server { engine = \"wazy\" }\nplugin \"a\" {\n  path = \"a.wasm\"\n}\n"+
		"plugin \"b\" {\n  path = \"b.wasm\"\n  mount = \"/b\"\n  engine = \"wazero\"\n}\n", "/srv/site.hcl")
	if len(diags) != 0 {
		t.Fatalf("diagnostics:\n%s", FormatDiagnostics(diags))
	}
	if site.Server.Engine != "wazy" || site.Plugins[0].Engine != "wazy" || site.Plugins[1].Engine != "wazero" {
		t.Errorf("server %q, plugins %q %q; want wazy, wazy, wazero", site.Server.Engine, site.Plugins[0].Engine, site.Plugins[1].Engine)
	}
}

func TestContractExample(t *testing.T) {
	site, diags := mustParse(t, contractExample, "/srv/site/site.hcl")
	if len(diags) != 0 {
		t.Errorf("unexpected diagnostics:\n%s", FormatDiagnostics(diags))
	}
	wantServer := defaultServer()
	wantServer.TLS = &TLS{Cert: "/srv/site/cert.pem", Key: "/srv/site/key.pem"}
	wantServer.ListenTLS = []bool{true}
	want := &Site{
		File:   "/srv/site/site.hcl",
		Dir:    "/srv/site",
		Server: wantServer,
		Admin:  &Admin{Listen: "127.0.0.1:9901"},
		Static: &Static{Path: "/srv/site/static", URLPrefix: "/static/", HashCache: true, RootFiles: []string{"apple-touch-icon.png"}},
		Plugins: []Plugin{{
			Name:        "hello",
			Path:        "/srv/site/plugins/examples/hello/hello.wasm",
			Mount:       "/",
			Instances:   16,
			Timeout:     10 * time.Second,
			MemoryLimit: 128 << 20,
			Engine:      "wazero",
			Env:         map[string]string{"GREETING": "hi"},
			CookieScope: "hello",
			MountSet:    true,
			Body:        BodyReading{ReadAhead: 64 << 10, MinRate: 240, MinRateGrace: 5 * time.Second},
		}},
		explicitServeTraceback: true,
		explicitHashCache:      true,
	}
	got := *site
	got.Plugins = append([]Plugin(nil), site.Plugins...)
	p := got.Plugins[0]
	// Ranges are compared on their own: they are positions, not values.
	if r := p.Range; r.Filename != "/srv/site/site.hcl" || r.Start.Line != 29 || r.Start.Column != 1 || r.End.Column != 15 {
		t.Errorf("plugin Range %s", r)
	}
	if r := p.PathRange; r.Start.Line != 30 || r.Start.Column != 18 || r.End.Column != 53 {
		t.Errorf("plugin PathRange %s", r)
	}
	got.Plugins[0].Range, got.Plugins[0].PathRange, got.Plugins[0].MountRange = hcl.Range{}, hcl.Range{}, hcl.Range{}
	got.Static.PathRange, got.Server.TLS.Range = hcl.Range{}, hcl.Range{}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("site\n got %+v\nwant %+v", got, *want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.hcl")
	if err := os.WriteFile(path, []byte(contractExample), 0o644); err != nil {
		t.Fatal(err)
	}
	site, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	if site.File != path || site.Dir != dir || site.Plugins[0].Path != filepath.Join(dir, "plugins/examples/hello/hello.wasm") {
		t.Errorf("File %q Dir %q plugin %q", site.File, site.Dir, site.Plugins[0].Path)
	}

	// Ranges keep the path as given, so relative invocations print short names.
	t.Chdir(dir)
	if err := os.WriteFile(path, []byte("server {\n  debug = 1\n}\nplugin \"a\" {\n  path = \"a.wasm\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	site, diags = Load("site.hcl")
	if site != nil || !strings.HasPrefix(FormatDiagnostics(diags), "site.hcl:2,11-12: ") {
		t.Errorf("site %v diags %q", site, FormatDiagnostics(diags))
	}

	site, diags = Load(filepath.Join(dir, "missing.hcl"))
	if site != nil || !diags.HasErrors() || diags[0].Subject != nil ||
		!strings.HasPrefix(FormatDiagnostics(diags), "Cannot read site config; open ") {
		t.Errorf("missing file: site %v diags %q", site, FormatDiagnostics(diags))
	}
}

func TestPaths(t *testing.T) {
	src := `server {
  tls {
    cert = "/etc/ssl/cert.pem"
    key  = "../keys/key.pem"
  }
}
static {
  path = "./assets/"
}
plugin "a" {
  path = "/opt/a.wasm"
}
plugin "b" {
  path  = "plugins/../b.wasm"
  mount = "/b"
}
`
	site, _ := mustParse(t, src, "/srv/site/site.hcl")
	for got, want := range map[string]string{
		site.Server.TLS.Cert: "/etc/ssl/cert.pem",
		site.Server.TLS.Key:  "/srv/keys/key.pem",
		site.Static.Path:     "/srv/site/assets",
		site.Plugins[0].Path: "/opt/a.wasm",
		site.Plugins[1].Path: "/srv/site/b.wasm",
	} {
		if got != want {
			t.Errorf("got %q want %q", got, want)
		}
	}
}

func TestValues(t *testing.T) {
	src := `server {
  listen              = ["0.0.0.0:8000", "[::1]:8001", ":0", ":0"]
  processes           = 0
  reuse_port          = true
  xheaders            = true
  trusted_proxies     = ["10.1.2.3/8", "192.168.0.7", "fd00::1"]
  shutdown_timeout    = "1m30s"
  max_body_size       = 1048576
  read_header_timeout = "5s"
  read_timeout        = "0s"
  write_timeout       = "2m"
  idle_timeout        = "1h"
  max_header_bytes    = "1KiB"
}
static {
  url_prefix = "/"
  root_files = ["robots.txt", "humans.txt"]
}
plugin "api.v2_x-y" {
  path         = "api.wasm"
  mount        = "/api/v2/"
  instances    = 10000
  timeout      = "250ms"
  memory_limit = "4GB"
  env          = { A = "1", "with space" = "", LANG = "C.UTF-8" }
}
plugin "b" {
  path  = "b.wasm"
  mount = "/api/v2x"
}
`
	site, _ := mustParse(t, src, "/srv/site.hcl")
	s := site.Server
	if !reflect.DeepEqual(s.Listen, []string{"0.0.0.0:8000", "[::1]:8001", ":0", ":0"}) || s.Processes != 0 ||
		!s.ReusePort || !s.XHeaders || s.ShutdownTimeout != 90*time.Second || s.MaxBodySize != 1<<20 ||
		s.ReadHeaderTimeout != 5*time.Second || s.ReadTimeout != 0 || s.WriteTimeout != 2*time.Minute ||
		s.IdleTimeout != time.Hour || s.MaxHeaderBytes != 1024 {
		t.Errorf("server %+v", s)
	}
	wantProxies := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.7/32"), netip.MustParsePrefix("fd00::1/128"),
	}
	if !reflect.DeepEqual(s.TrustedProxies, wantProxies) {
		t.Errorf("trusted proxies %v", s.TrustedProxies)
	}
	if site.Static.URLPrefix != "/" || !reflect.DeepEqual(site.Static.RootFiles, []string{"robots.txt", "humans.txt"}) {
		t.Errorf("static %+v", site.Static)
	}
	p := site.Plugins[0]
	if p.Name != "api.v2_x-y" || p.Mount != "/api/v2" || p.Instances != 10000 || p.Timeout != 250*time.Millisecond ||
		p.MemoryLimit != 4<<30 || !reflect.DeepEqual(p.Env, map[string]string{"A": "1", "with space": "", "LANG": "C.UTF-8"}) {
		t.Errorf("plugin %+v", p)
	}
	if site.Plugins[1].Mount != "/api/v2x" {
		t.Errorf("plugin b mount %q", site.Plugins[1].Mount)
	}
}

func TestDebugDefaults(t *testing.T) {
	for _, c := range []struct {
		server, static                             string
		debug, traceback, autoreload, hash, ccache bool
	}{
		{"", "", false, false, true, true, true},
		{"debug = false", "", false, false, true, true, true},
		{"debug = true", "", true, true, true, false, false},
		{"debug = true\n  serve_traceback = false", "", true, false, true, false, false},
		{"debug = true\n  autoreload = false", "hash_cache = true", true, true, false, true, false},
		{"serve_traceback = true\n  autoreload = false", "hash_cache = false", false, true, false, false, true},
	} {
		src := "server {\n  " + c.server + "\n}\nstatic {\n  " + c.static + "\n}\n"
		site, _ := mustParse(t, src, "site.hcl")
		s := site.Server
		if s.Debug != c.debug || s.ServeTraceback != c.traceback || s.Autoreload != c.autoreload ||
			site.Static.HashCache != c.hash || s.CacheSize != DefaultCacheSize {
			t.Errorf("server{%s} static{%s}: debug %v traceback %v autoreload %v hash_cache %v cache_size %v",
				c.server, c.static, s.Debug, s.ServeTraceback, s.Autoreload, site.Static.HashCache, s.CacheSize)
		}
	}
}

func TestApplyDebug(t *testing.T) {
	site, _ := mustParse(t, "static {}\n", "site.hcl")
	site.ApplyDebug(true)
	if !site.Server.Debug || !site.Server.ServeTraceback || site.Static.HashCache || !site.Server.Autoreload {
		t.Errorf("debug on: %+v %+v", site.Server, site.Static)
	}
	site.ApplyDebug(false)
	if site.Server.Debug || site.Server.ServeTraceback || !site.Static.HashCache {
		t.Errorf("debug off: %+v %+v", site.Server, site.Static)
	}

	// What the file set explicitly survives --debug.
	site, _ = mustParse(t, "server {\n  serve_traceback = false\n}\nstatic {\n  hash_cache = true\n}\n", "site.hcl")
	site.ApplyDebug(true)
	if site.Server.ServeTraceback || !site.Static.HashCache {
		t.Errorf("explicit settings overridden: %+v %+v", site.Server, site.Static)
	}

	site, _ = mustParse(t, "", "site.hcl")
	site.ApplyDebug(true) // no static block: must not panic
}

// TestOneLineBlockHoldsOneArgument: HCL's own rule, which editors and
// hclfmt apply too; the error points at the line.
func TestOneLineBlockHoldsOneArgument(t *testing.T) {
	src := "server {\n  tls { cert = \"c.pem\"  key = \"k.pem\" }\n}\n"
	site, diags := Parse([]byte(src), "site.hcl")
	if site != nil || !diags.HasErrors() || diags.Errs()[0].(*hcl.Diagnostic).Subject.Start.Line != 2 {
		t.Errorf("a one-line block with two arguments: site %v, diagnostics %s", site != nil, FormatDiagnostics(diags))
	}
}

func TestFormatDiagnostics(t *testing.T) {
	rng := hcl.Range{Filename: "site.hcl", Start: hcl.Pos{Line: 7, Column: 3}, End: hcl.Pos{Line: 7, Column: 9}}
	multi := hcl.Range{Filename: "site.hcl", Start: hcl.Pos{Line: 2, Column: 1}, End: hcl.Pos{Line: 4, Column: 2}}
	got := FormatDiagnostics(hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Bad", Detail: "really bad.", Subject: &rng},
		{Severity: hcl.DiagWarning, Summary: "Hmm", Detail: "line one\nline two", Subject: &multi},
		{Severity: hcl.DiagError, Summary: "No subject", Detail: "d"},
		{Severity: hcl.DiagError, Summary: "No detail", Subject: &rng},
		nil,
	})
	want := "site.hcl:7,3-9: Bad; really bad.\n" +
		"site.hcl:2,1-4,2: Warning: Hmm; line one line two\n" +
		"No subject; d\n" +
		"site.hcl:7,3-9: No detail\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if FormatDiagnostics(nil) != "" {
		t.Error("nil diagnostics should render as nothing")
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range []struct {
		src  string
		line int
	}{
		{"server {\n  debug = true\n", 1},                                 // missing closing brace
		{"server {\n  debug = true\n}\n}\n", 4},                           // extra closing brace
		{"plugin \"a\" {\n  path = \"a.wasm\n}\n", 2},                     // unterminated string
		{"server {\n  listen = [\"a:1\",\n}\n", 3},                        // unterminated list
		{"server\n{\n}\n", 1},                                             // brace on the next line
		{"server {\n  debug = true, processes = 2\n}\n", 2},               // comma between arguments
		{"plugin \"a\" { path = \"a.wasm\"  # c\n  mount = \"/\" }\n", 1}, // not a one-line block
		{"server { debug = true }}\n", 1},
		{"\x00\x01", 1},
	} {
		site, diags := Parse([]byte(c.src), "site.hcl")
		if site != nil || !diags.HasErrors() {
			t.Errorf("%q: want an error, got %v", c.src, FormatDiagnostics(diags))
			continue
		}
		d := diags.Errs()[0].(*hcl.Diagnostic)
		if d.Subject == nil || d.Subject.Start.Line != c.line {
			t.Errorf("%q: want line %d, got %s", c.src, c.line, FormatDiagnostics(diags))
		}
		if !strings.HasPrefix(FormatDiagnostics(diags), "site.hcl:") {
			t.Errorf("%q: %q", c.src, FormatDiagnostics(diags))
		}
	}
}

func TestAllErrorsReportedInOrder(t *testing.T) {
	src := `plugin "b" {
  instances = 0
  foo = 1
  bar = 2
}
server {
  processes = -1
  debug     = "yes"
}
`
	_, diags := Parse([]byte(src), "site.hcl")
	var lines []int
	for _, d := range diags {
		lines = append(lines, d.Subject.Start.Line)
	}
	if want := []int{1, 2, 3, 4, 7, 8}; !reflect.DeepEqual(lines, want) {
		t.Errorf("lines %v, want %v:\n%s", lines, want, FormatDiagnostics(diags))
	}
}

// FuzzParse guards the promise that malformed input yields diagnostics, not
// panics. The seeds run as part of go test.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		contractExample, "", "server {", "plugin {}", "plugin \"a\" \"b\" {}", "tls { a = 1  b = 2 }",
		"x { a = { b = 1  c = 2 }  d = [1,\n2] }", "a { b = \"${\"}\" }", "plugin \"x\" { env = { (1) = 2 } }",
		"server { listen = null }", "plugin \"p\" { path = \"p\"  }  }", "a \"\" { b = 1  = 2 }",
		"plugin \"p\" { path = <<EOT\nx\nEOT\n }", "s { a = 1  b = }", "s { a = 1  b = 2", "{ a = 1  b = 2 }",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		site, diags := Parse(src, "site.hcl")
		if (site == nil) != diags.HasErrors() {
			t.Fatalf("site %v with diags %s", site != nil, FormatDiagnostics(diags))
		}
		_ = FormatDiagnostics(diags)
	})
}

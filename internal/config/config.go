// Package config parses and validates site.hcl, the one file that describes
// a wasmhost site: the server, the optional admin listener, static files and
// the plugins with their mounts.
//
// Loading is a single pass: the HCL syntax is parsed, each block is decoded
// with the low-level schema API (so every attribute keeps its source range),
// and each value is validated as it is decoded. Every problem becomes an
// hcl.Diagnostic whose Subject points at the offending expression, or at the
// block header for problems that belong to a whole block (a duplicate, a
// missing required argument). Decoding does not stop at the first problem:
// `wasmhost check` shows all of them at once. Nothing here panics on bad
// input and nothing touches the file system beyond reading site.hcl itself;
// whether plugin files, TLS files and the static folder exist is checked by
// the code that uses them, with the ranges kept here (Plugin.PathRange).
//
// The syntax is HCL's, unextended, so editors and hclfmt accept every
// site.hcl: a block on one line holds at most one argument.
//
// Values are literal, with one function: env("NAME") and env("NAME",
// "default") read the process environment (env.go); other variables and
// function calls are reported by HCL itself. Types are strict
// (no "4" for 4, no "true" for true), because a config that only works by
// accident of conversion is harder to read than one that fails loudly.
package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/wasmhost/wasmhost/internal/outbound"
)

// Defaults. Sizes are in bytes, with binary units as in ParseSize.
const (
	DefaultListen            = "127.0.0.1:8888"
	DefaultProcesses         = 1
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultMaxBodySize       = 10 << 20
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 0 // streaming responses may legitimately be long
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxURLLength      = 8 << 10
	DefaultCacheSize         = 4 << 30

	DefaultAdminListen = "127.0.0.1:9901"

	DefaultStaticPath      = "static"
	DefaultStaticURLPrefix = "/static/"

	DefaultMount        = "/"
	DefaultCookieMaxAge = 744 * time.Hour // 31 days, as Tornado's secure cookies
	DefaultInstances    = 16
	MaxInstances        = 10000
	DefaultTimeout      = 10 * time.Second
	DefaultMemoryLimit  = 128 << 20
	MinMemoryLimit      = 4 << 20
	MaxMemoryLimit      = 4 << 30 // the wasm32 address space
)

// Engines are the WebAssembly runtimes a plugin can run on (the loader's
// engines); DefaultEngine is the reference runtime, used unless
// server.engine or a plugin's engine names another.
var Engines = []string{"wazero", "wazy"}

const DefaultEngine = "wazero"

// DefaultTrustedProxies returns the loopback prefixes trusted for X- headers
// when trusted_proxies is not set. It is a function so that callers can never
// mutate a shared default.
func DefaultTrustedProxies() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("::1/128"),
	}
}

// Site is a parsed and validated site.hcl.
type Site struct {
	File     string // absolute path of the site.hcl
	Dir      string // its folder; relative paths in the file are resolved against it
	Server   Server
	Admin    *Admin  // nil when there is no admin block
	Static   *Static // nil when there is no static block
	Plugins  []Plugin
	KV       []KV      // kv blocks, in file order
	Pubsub   []Pubsub  // pubsub blocks, in file order
	Outbound *Outbound // nil when there is no outbound block
	// Flawed holds the plugin blocks that had errors, as far as they
	// decoded: only LoadPartial returns a site that has any.
	Flawed []Plugin

	// Which debug-derived settings the file set explicitly, so that ApplyDebug
	// (the --debug flag) can recompute the others without overriding the user.
	explicitServeTraceback bool
	explicitHashCache      bool
}

type Server struct {
	Listen            []string       // listen; each host:port with a numeric port (a scheme, if given, removed)
	ListenTLS         []bool         // for each Listen entry, whether it serves TLS (see ApplyListen)
	Processes         int            // processes; 0 = one per CPU, 1 = no master process
	ReusePort         bool           // reuse_port
	XHeaders          bool           // xheaders
	TrustedProxies    []netip.Prefix // trusted_proxies; a bare IP means /32 or /128
	Debug             bool           // debug
	Autoreload        bool           // autoreload: true unless set, even without debug
	ServeTraceback    bool           // serve_traceback: Debug unless set
	ShutdownTimeout   time.Duration  // shutdown_timeout
	MaxBodySize       int64          // max_body_size; 0 rejects every non-empty body
	ReadHeaderTimeout time.Duration  // read_header_timeout
	ReadTimeout       time.Duration  // read_timeout; 0 = none
	WriteTimeout      time.Duration  // write_timeout; 0 = none
	IdleTimeout       time.Duration  // idle_timeout
	MaxHeaderBytes    int64          // max_header_bytes
	MaxURLLength      int64          // max_url_length: longer request-targets get 414
	CookieSecret      Secret         // cookie_secret: signs cookies; "" = no signed cookies
	CookieSecretPrev  Secret         // cookie_secret_previous: still accepted when verifying
	CookieMaxAge      time.Duration  // cookie_max_age: oldest signed value accepted
	TLS               *TLS           // nil without a tls block
	CacheSize         int64          // cache_size: the compilation cache's bound on disk
	Engine            string         // engine: the default of every plugin, one of Engines
	Body              BodyReading    // body_read_ahead, min_body_rate, min_body_rate_grace
}

// TLS holds absolute paths; their existence is checked when they are loaded.
type TLS struct {
	Cert, Key string
	Range     hcl.Range // the tls block's header, for diagnostics about the files
}

type Admin struct{ Listen string }

type Static struct {
	Path      string   // absolute
	URLPrefix string   // starts and ends with "/"
	HashCache bool     // !Debug unless set
	RootFiles []string // plain file names; robots.txt and favicon.ico are implied and not listed here

	PathRange hcl.Range // the path expression, or the block header without one
}

type Plugin struct {
	Name         string            // the block label, unique
	Path         string            // absolute path of the .wasm
	Mount        string            // normalized: no trailing "/" except for "/" itself; unique
	Instances    int               // 1..MaxInstances
	Timeout      time.Duration     // > 0
	MemoryLimit  int64             // bytes as given, MinMemoryLimit..MaxMemoryLimit
	Engine       string            // engine, else server.engine: one of Engines
	Env          map[string]string // never nil
	Dirs         []Dir             // dirs: folders the guest may open; none by default
	KV           []string          // kv: names of the stores granted, each declared by a kv block
	AllowedHosts outbound.Rules    // allowed_hosts: outbound HTTP destinations; none by default
	CookieScope  string            // cookie_scope: signed cookies verify only in plugins of this scope; default Name
	Pubsub       string            // pubsub: the one pubsub block granted; "" for none
	WebSocket    *WebSocket        // websocket block; nil: the plugin accepts no upgrades
	Range        hcl.Range         // the plugin block's DefRange
	PathRange    hcl.Range         // the path expression's range
	Source       string            // absolute folder of the Go package that builds Path; "" if not set
	SourceRange  hcl.Range         // the source expression's range
	Body         BodyReading       // body settings: the server's, overridden by the plugin's own

	// Mount is "" for a plugin that is only used in chains: one without a
	// mount that some middleware list names.
	MountSet   bool      // mount was given
	MountRange hcl.Range // the mount expression, or the block header without one
	// MountDefault: no mount and no middleware list names it, so Mount is
	// "/" for a handler and "" for a middleware, which CheckKinds settles.
	MountDefault bool
	// Middleware is the plugin's middleware list as written (plugin names
	// or built-in names), outermost first, with each element's range.
	Middleware       []string
	MiddlewareRanges []hcl.Range
	// Chain is the middleware a request to this plugin goes through,
	// outermost first: Middleware with each middleware plugin's own chain
	// put in front of it.
	Chain []string
}

// Dir grants a plugin access to a host folder, seen by the guest at Guest.
type Dir struct {
	Guest    string    // absolute path inside the guest
	Host     string    // absolute host folder
	Writable bool      // ":rw" in site.hcl; read-only otherwise
	Range    hcl.Range // the host path's expression, for diagnostics
}

// ApplyDebug sets Server.Debug as the --debug flag does, and recomputes the
// settings that follow it unless site.hcl set them explicitly.
func (s *Site) ApplyDebug(debug bool) {
	s.Server.Debug = debug
	if !s.explicitServeTraceback {
		s.Server.ServeTraceback = debug
	}
	if s.Static != nil && !s.explicitHashCache {
		s.Static.HashCache = !debug
	}
}

// Load reads, parses and validates the file. Ranges in diagnostics carry path
// exactly as given, so messages read like "site.hcl:7,3-9: ...". On error
// diags.HasErrors() is true and the *Site is nil.
func Load(path string) (*Site, hcl.Diagnostics) {
	site, diags := LoadPartial(path)
	if diags.HasErrors() {
		return nil, diags
	}
	return site, diags
}

// Parse is Load on bytes already read; filename is used in ranges and, through
// its folder, to resolve relative paths.
func Parse(src []byte, filename string) (*Site, hcl.Diagnostics) {
	site, diags := parse(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	return site, diags
}

// LoadPartial is Load for `wasmhost check`: it returns the site as far as
// it decoded even when there are errors (nil only when the file cannot be
// read or parsed), so that check goes on to load the plugins and open the
// static folder and reports every problem in one run. Plugin blocks with
// errors are left out of Plugins and kept in Flawed. The site must never
// be served.
func LoadPartial(path string) (*Site, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read site config",
			Detail:   err.Error(),
		}}
	}
	return parse(src, path)
}

// SortDiagnostics orders diagnostics by file and position (those without a
// position first), as Load does with its own.
func SortDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics { return sortDiags(diags) }

func parse(src []byte, filename string) (*Site, hcl.Diagnostics) {
	abs, err := filepath.Abs(filename)
	if err != nil {
		abs = filepath.Clean(filename)
	}
	site := &Site{File: abs, Dir: filepath.Dir(abs)}

	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		// The recovered AST after a syntax error tends to produce confusing
		// follow-on errors; the syntax error alone is the useful message.
		return nil, sortDiags(diags)
	}
	body := file.Body.(*hclsyntax.Body)

	d := &decoder{site: site, diags: diags}
	d.eval = d.evalContext()
	d.decodeFile(body)
	d.redactSecrets()
	return site, sortDiags(d.diags)
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "server"},
		{Type: "admin"},
		{Type: "static"},
		{Type: "plugin", LabelNames: []string{"name"}},
		{Type: "kv", LabelNames: []string{"name"}},
		{Type: "pubsub", LabelNames: []string{"name"}},
		{Type: "outbound"},
	},
}

func (d *decoder) decodeFile(body hcl.Body) {
	content, diags := body.Content(rootSchema)
	d.diags = append(d.diags, diags...)

	first := map[string]*hcl.Block{}
	var plugins []*hcl.Block
	var stores, pubsubs []*hcl.Block
	for _, b := range content.Blocks {
		switch b.Type {
		case "plugin":
			plugins = append(plugins, b)
			continue
		case "kv":
			stores = append(stores, b)
			continue
		case "pubsub":
			pubsubs = append(pubsubs, b)
			continue
		}
		if prev := first[b.Type]; prev != nil {
			d.errorf(b.DefRange, "Duplicate "+b.Type+" block",
				"Only one %s block is allowed; the first one was declared at %s.", b.Type, prev.DefRange)
			continue
		}
		first[b.Type] = b
	}

	// Server first: admin is checked against server.listen, and static and
	// debug-derived defaults follow server.debug.
	d.decodeServer(first["server"])
	if b := first["admin"]; b != nil {
		d.site.Admin = d.decodeAdmin(b)
	}
	if b := first["static"]; b != nil {
		d.site.Static = d.decodeStatic(b)
	}
	// Stores before plugins, which grant them, wherever they are in the file.
	d.decodeStores(stores)
	d.decodePubsubs(pubsubs)
	if b := first["outbound"]; b != nil {
		d.site.Outbound = d.decodeOutbound(b)
	}
	d.site.Plugins = []Plugin{}
	for _, b := range plugins {
		if p, ok := d.decodePlugin(b); ok {
			d.site.Plugins = append(d.site.Plugins, p)
		} else {
			d.site.Flawed = append(d.site.Flawed, p)
		}
	}
	d.resolveChains()
	if len(plugins) == 0 {
		start := hcl.Range{Filename: d.filename(body), Start: hcl.InitialPos, End: hcl.InitialPos}
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "No plugin blocks",
			Detail:   "Every request outside static files will be 404.",
			Subject:  &start,
		})
	}
}

func (d *decoder) filename(body hcl.Body) string {
	return body.MissingItemRange().Filename
}

// FormatDiagnostics renders diagnostics one per line as
// "FILE:LINE,COL-COL: Summary; Detail" (hcl.Diagnostic.Error()), or
// "Summary; Detail" without a Subject. Warnings get "Warning: " before the
// summary so that they cannot be mistaken for the errors that fail a check.
func FormatDiagnostics(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, diag := range diags {
		if diag == nil {
			continue
		}
		if diag.Subject != nil {
			fmt.Fprintf(&b, "%s: ", diag.Subject)
		}
		if diag.Severity == hcl.DiagWarning {
			b.WriteString("Warning: ")
		}
		b.WriteString(oneLine(diag.Summary))
		if detail := oneLine(diag.Detail); detail != "" {
			b.WriteString("; ")
			b.WriteString(detail)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// oneLine keeps the one-diagnostic-per-line promise even for multi-line
// details, so the output stays greppable.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// sortDiags orders diagnostics by position: HCL reports some problems in map
// order, and a check that prints them differently on each run is unsettling.
func sortDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
	return diags
}

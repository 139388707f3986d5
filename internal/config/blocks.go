package config

import (
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// MaxProcesses bounds server.processes: far above any real machine, low
// enough that a typo cannot fork thousands of workers.
const MaxProcesses = 1024

var serverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "listen"}, {Name: "processes"}, {Name: "reuse_port"},
		{Name: "xheaders"}, {Name: "trusted_proxies"}, {Name: "debug"},
		{Name: "autoreload"}, {Name: "serve_traceback"}, {Name: "shutdown_timeout"},
		{Name: "max_body_size"}, {Name: "cache_size"}, {Name: "read_header_timeout"}, {Name: "read_timeout"},
		{Name: "write_timeout"}, {Name: "idle_timeout"}, {Name: "max_header_bytes"},
		{Name: "max_url_length"}, {Name: "engine"}, {Name: "cookie_secret"}, {Name: "cookie_secret_previous"},
		{Name: "cookie_max_age"},
		{Name: "body_read_ahead"}, {Name: "min_body_rate"}, {Name: "min_body_rate_grace"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}},
}

// decodeServer fills d.site.Server; b is nil when there is no server block,
// which means all defaults.
func (d *decoder) decodeServer(b *hcl.Block) {
	s := &d.site.Server
	*s = serverDefaults()
	if b == nil {
		s.ListenTLS = []bool{false}
		return
	}
	content, diags := b.Body.Content(serverSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes

	var listenEntries []string
	var listenRange hcl.Range
	if a := attrs["listen"]; a != nil {
		listenRange = a.Expr.Range()
		if items, ok := d.strList(a.Expr, "server.listen", true); ok {
			listenEntries = d.listenAddrs(items, "server.listen")
		}
	}
	if a := attrs["processes"]; a != nil {
		if n, ok := d.integer(a.Expr, "server.processes", 0, MaxProcesses); ok {
			s.Processes = int(n)
		}
	}
	d.setEngine(attrs, "server.engine", &s.Engine)
	d.setBool(attrs, "reuse_port", &s.ReusePort)
	d.setBool(attrs, "xheaders", &s.XHeaders)
	d.setBool(attrs, "debug", &s.Debug)
	d.setBool(attrs, "autoreload", &s.Autoreload)
	s.ServeTraceback = s.Debug
	d.site.explicitServeTraceback = d.setBool(attrs, "serve_traceback", &s.ServeTraceback)

	if a := attrs["trusted_proxies"]; a != nil {
		if items, ok := d.strList(a.Expr, "server.trusted_proxies", false); ok {
			s.TrustedProxies = d.prefixes(items)
			if len(items) == 0 && s.XHeaders {
				d.warnf(a.Expr.Range(), "No trusted proxies",
					"server.xheaders is on but server.trusted_proxies is empty, so X- headers will never be honored.")
			}
		}
	}
	d.decodeServerLimits(attrs, s)
	d.decodeCookieSettings(attrs)
	d.decodeBodyReading(attrs, "server.", &s.Body)
	if tb := d.singleTLS(content.Blocks); tb != nil {
		s.TLS = d.decodeTLS(tb)
	}
	if listenEntries == nil {
		listenEntries = []string{DefaultListen}
	}
	if err := s.ApplyListen(listenEntries); err != nil {
		d.errorf(listenRange, "Invalid listen address", "server.listen: %s.", err)
	}
}

// serverDefaults is the server block's settings when site.hcl sets none.
func serverDefaults() Server {
	return Server{
		Listen:            []string{DefaultListen},
		Processes:         DefaultProcesses,
		TrustedProxies:    DefaultTrustedProxies(),
		Autoreload:        true,
		ShutdownTimeout:   DefaultShutdownTimeout,
		MaxBodySize:       DefaultMaxBodySize,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      DefaultWriteTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		MaxURLLength:      DefaultMaxURLLength,
		CacheSize:         DefaultCacheSize,
		Engine:            DefaultEngine,
		CookieMaxAge:      DefaultCookieMaxAge,
		Body:              DefaultBodyReading(),
	}
}

// decodeServerLimits reads the server's timeouts and sizes.
func (d *decoder) decodeServerLimits(attrs hcl.Attributes, s *Server) {
	for _, t := range []struct {
		name string
		dst  *time.Duration
	}{
		{"shutdown_timeout", &s.ShutdownTimeout},
		{"read_header_timeout", &s.ReadHeaderTimeout},
		{"read_timeout", &s.ReadTimeout},
		{"write_timeout", &s.WriteTimeout},
		{"idle_timeout", &s.IdleTimeout},
	} {
		if a := attrs[t.name]; a != nil {
			if v, ok := d.duration(a.Expr, "server."+t.name); ok {
				*t.dst = v
			}
		}
	}
	if a := attrs["max_body_size"]; a != nil {
		if n, ok := d.size(a.Expr, "server.max_body_size"); ok {
			s.MaxBodySize = n
		}
	}
	d.positiveSize(attrs, "cache_size", &s.CacheSize)
	d.positiveSize(attrs, "max_header_bytes", &s.MaxHeaderBytes)
	d.positiveSize(attrs, "max_url_length", &s.MaxURLLength)
}

// positiveSize sets *dst from the server's size attribute name, which must
// be more than 0.
func (d *decoder) positiveSize(attrs hcl.Attributes, name string, dst *int64) {
	a := attrs[name]
	if a == nil {
		return
	}
	if n, ok := d.size(a.Expr, "server."+name); ok {
		if n <= 0 {
			d.errorf(a.Expr.Range(), "Invalid size", "server.%s must be more than 0.", name)
		} else {
			*dst = n
		}
	}
}

// singleTLS returns the server's tls block, refusing any after the first.
func (d *decoder) singleTLS(blocks hcl.Blocks) *hcl.Block {
	var tlsBlock *hcl.Block
	for _, tb := range blocks {
		if tlsBlock != nil {
			d.errorf(tb.DefRange, "Duplicate tls block",
				"Only one tls block is allowed in server; the first one was declared at %s.", tlsBlock.DefRange)
			continue
		}
		tlsBlock = tb
	}
	return tlsBlock
}

// setBool reports whether the attribute was present, which the debug-derived
// defaults need to know.
func (d *decoder) setBool(attrs hcl.Attributes, name string, dst *bool) bool {
	a := attrs[name]
	if a == nil {
		return false
	}
	if v, ok := d.boolean(a.Expr, "server."+name); ok {
		*dst = v
	}
	return true
}

func (d *decoder) listenAddrs(items []listItem, what string) []string {
	seen := map[string]hcl.Range{}
	addrs := make([]string, 0, len(items))
	for _, it := range items {
		if err := CheckListenAddr(it.val); err != nil {
			d.errorf(it.rng, "Invalid listen address", "%s: %s.", what, err)
			continue
		}
		if key, fixed := listenKey(it.val); fixed {
			if prev, dup := seen[key]; dup {
				d.errorf(it.rng, "Duplicate listen address", "%s: %q is already listed at %s.", what, it.val, prev)
				continue
			}
			seen[key] = it.rng
		}
		addrs = append(addrs, it.val)
	}
	return addrs
}

func (d *decoder) prefixes(items []listItem) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(items))
	for _, it := range items {
		p, err := ParsePrefix(it.val)
		if err != nil {
			d.errorf(it.rng, "Invalid trusted proxy", "server.trusted_proxies: %s.", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

var tlsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "cert"}, {Name: "key"}},
}

func (d *decoder) decodeTLS(b *hcl.Block) *TLS {
	content, diags := b.Body.Content(tlsSchema)
	d.diags = append(d.diags, diags...)
	t := &TLS{Range: b.DefRange}
	for _, f := range []struct {
		name, example string
		dst           *string
	}{{"cert", "cert.pem", &t.Cert}, {"key", "key.pem", &t.Key}} {
		a := content.Attributes[f.name]
		if a == nil {
			d.errorf(b.DefRange, "Missing required argument",
				"The tls block needs %s = %q (a PEM file, relative to the site.hcl folder).", f.name, f.example)
			continue
		}
		if p, ok := d.path(a.Expr, "server.tls."+f.name); ok {
			*f.dst = p
		}
	}
	return t
}

var adminSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "listen"}}}

func (d *decoder) decodeAdmin(b *hcl.Block) *Admin {
	content, diags := b.Body.Content(adminSchema)
	d.diags = append(d.diags, diags...)
	adm := &Admin{Listen: DefaultAdminListen}
	a := content.Attributes["listen"]
	if a == nil {
		return adm
	}
	v, ok := d.str(a.Expr, "admin.listen")
	if !ok {
		return adm
	}
	if err := CheckListenAddr(v); err != nil {
		d.errorf(a.Expr.Range(), "Invalid listen address", "admin.listen: %s.", err)
		return adm
	}
	adm.Listen = v
	// The admin endpoints must not shadow the site; a clash would otherwise
	// surface only as "address already in use" at start.
	if key, fixed := listenKey(v); fixed {
		for _, l := range d.site.Server.Listen {
			if k, _ := listenKey(l); k == key {
				d.errorf(a.Expr.Range(), "Admin address in use", "admin.listen %q is also in server.listen.", v)
				break
			}
		}
	}
	return adm
}

var staticSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path"}, {Name: "url_prefix"}, {Name: "hash_cache"}, {Name: "root_files"},
	},
}

func (d *decoder) decodeStatic(b *hcl.Block) *Static {
	content, diags := b.Body.Content(staticSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	st := &Static{
		Path:      resolve(d.site.Dir, DefaultStaticPath),
		URLPrefix: DefaultStaticURLPrefix,
		HashCache: !d.site.Server.Debug,
		RootFiles: []string{},
		PathRange: b.DefRange,
	}
	if a := attrs["path"]; a != nil {
		st.PathRange = a.Expr.Range()
		if p, ok := d.path(a.Expr, "static.path"); ok {
			st.Path = p
		}
	}
	if a := attrs["url_prefix"]; a != nil {
		if v, ok := d.str(a.Expr, "static.url_prefix"); ok {
			if err := checkURLPrefix(v); err != nil {
				d.errorf(a.Expr.Range(), "Invalid URL prefix", "static.url_prefix: %s.", err)
			} else {
				st.URLPrefix = v
			}
		}
	}
	if a := attrs["hash_cache"]; a != nil {
		d.site.explicitHashCache = true
		if v, ok := d.boolean(a.Expr, "static.hash_cache"); ok {
			st.HashCache = v
		}
	}
	if a := attrs["root_files"]; a != nil {
		if items, ok := d.strList(a.Expr, "static.root_files", false); ok {
			seen := map[string]hcl.Range{}
			for _, it := range items {
				if err := checkRootFile(it.val); err != nil {
					d.errorf(it.rng, "Invalid root file", "static.root_files: %s.", err)
					continue
				}
				if prev, dup := seen[it.val]; dup {
					d.errorf(it.rng, "Duplicate root file", "static.root_files: %q is already listed at %s.", it.val, prev)
					continue
				}
				seen[it.val] = it.rng
				st.RootFiles = append(st.RootFiles, it.val)
			}
		}
	}
	return st
}

var pluginSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path"}, {Name: "mount"}, {Name: "instances"},
		{Name: "timeout"}, {Name: "memory_limit"}, {Name: "env"}, {Name: "dirs"},
		{Name: "engine"},
		{Name: "kv"}, {Name: "allowed_hosts"},
		{Name: "source"},
		{Name: "middleware"},
		{Name: "cookie_scope"},
		{Name: "body_read_ahead"}, {Name: "min_body_rate"}, {Name: "min_body_rate_grace"},
		{Name: "pubsub"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "websocket"}},
}

func (d *decoder) decodePlugin(b *hcl.Block) (Plugin, bool) {
	p := Plugin{
		Name:        b.Labels[0],
		Mount:       DefaultMount,
		Instances:   DefaultInstances,
		Timeout:     DefaultTimeout,
		MemoryLimit: DefaultMemoryLimit,
		Engine:      d.site.Server.Engine,
		Body:        d.site.Server.Body,
		Env:         map[string]string{},
		Range:       b.DefRange,
		CookieScope: b.Labels[0],
	}
	before := len(d.diags.Errs())
	what := "plugin " + quote(p.Name)
	d.claimPluginName(b, p.Name, what)

	content, diags := b.Body.Content(pluginSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes

	if a := attrs["path"]; a != nil {
		p.PathRange = a.Expr.Range()
		if v, ok := d.path(a.Expr, what+" path"); ok {
			p.Path = v
		}
	} else {
		d.errorf(b.DefRange, "Missing required argument",
			"The %s block needs path = \"....wasm\" (relative to the site.hcl folder).", what)
	}

	if a := attrs["source"]; a != nil {
		p.SourceRange = a.Expr.Range()
		if v, ok := d.path(a.Expr, what+" source"); ok {
			p.Source = v
		}
	}

	mountRange := d.decodeMount(attrs, b, &p, what)
	d.setEngine(attrs, what+" engine", &p.Engine)
	d.decodePluginLimits(attrs, &p, what)
	if a := attrs["env"]; a != nil {
		d.pluginEnv(a.Expr, &p, what)
	}
	if a := attrs["dirs"]; a != nil {
		p.Dirs = d.dirs(a.Expr, what)
	}
	d.decodeServices(attrs, &p, what)
	d.decodePubsubGrant(attrs, &p, what)
	d.decodeWebSockets(content.Blocks, &p, what)
	d.cookieScope(attrs, &p, what)
	d.decodeBodyReading(attrs, what+" ", &p.Body)
	if a := attrs["middleware"]; a != nil {
		d.middlewareList(&p, a.Expr, what)
	}
	p.MountRange = mountRange
	return p, len(d.diags.Errs()) == before
}

// claimPluginName checks a plugin's name and that no plugin before took it.
func (d *decoder) claimPluginName(b *hcl.Block, name, what string) {
	if err := checkPluginName(name); err != nil {
		d.errorf(b.LabelRanges[0], "Invalid plugin name", "%s: %s.", what, err)
	} else if prev, dup := d.pluginNames[name]; dup {
		d.errorf(b.DefRange, "Duplicate plugin name",
			"A plugin named %q was already declared at %s.", name, prev)
	} else {
		if d.pluginNames == nil {
			d.pluginNames = map[string]hcl.Range{}
		}
		d.pluginNames[name] = b.DefRange
	}
}

// decodeMount reads a plugin's mount and claims it; it returns the range
// that diagnostics about the mount point at.
func (d *decoder) decodeMount(attrs hcl.Attributes, b *hcl.Block, p *Plugin, what string) hcl.Range {
	mountRange := b.DefRange
	mountOK := attrs["mount"] != nil // an absent mount is settled once every list is known (chains.go)
	if a := attrs["mount"]; a != nil {
		p.MountSet = true
		mountRange = a.Expr.Range()
		v, ok := d.str(a.Expr, what+" mount")
		if ok {
			m, err := NormalizeMount(v)
			if err != nil {
				d.errorf(a.Expr.Range(), "Invalid mount", "%s mount: %s.", what, err)
				ok = false
			}
			p.Mount = m
		}
		mountOK = ok
	}
	if mountOK {
		if prev, dup := d.mounts[p.Mount]; dup {
			d.errorf(mountRange, "Duplicate mount",
				"%s mounts %q, which %s already mounts (declared at %s).", what, p.Mount, prev.who, prev.rng)
		} else {
			if d.mounts == nil {
				d.mounts = map[string]declared{}
			}
			d.mounts[p.Mount] = declared{what, mountRange}
		}
	}
	return mountRange
}

// decodePluginLimits reads a plugin's instances, timeout and memory limit.
func (d *decoder) decodePluginLimits(attrs hcl.Attributes, p *Plugin, what string) {
	if a := attrs["instances"]; a != nil {
		if n, ok := d.integer(a.Expr, what+" instances", 1, MaxInstances); ok {
			p.Instances = int(n)
		}
	}
	if a := attrs["timeout"]; a != nil {
		if v, ok := d.duration(a.Expr, what+" timeout"); ok {
			if v <= 0 {
				d.errorf(a.Expr.Range(), "Invalid duration", "%s timeout must be more than 0.", what)
			} else {
				p.Timeout = v
			}
		}
	}
	if a := attrs["memory_limit"]; a != nil {
		if n, ok := d.size(a.Expr, what+" memory_limit"); ok {
			if n < MinMemoryLimit || n > MaxMemoryLimit {
				d.errorf(a.Expr.Range(), "Invalid memory limit",
					"%s memory_limit must be between 4MB and 4GB, not %s.", what, FormatSize(n))
			} else {
				p.MemoryLimit = n
			}
		}
	}
}

// pluginEnv decodes a plugin's environment variables.
func (d *decoder) pluginEnv(expr hcl.Expression, p *Plugin, what string) {
	items, ok := d.strMap(expr, what+" env")
	if !ok {
		return
	}
	seen := map[string]hcl.Range{}
	for _, it := range items {
		if err := checkEnvKey(it.key); err != nil {
			d.errorf(it.keyRng, "Invalid environment variable name", "%s env: %s.", what, err)
			continue
		}
		if prev, dup := seen[it.key]; dup {
			d.errorf(it.keyRng, "Duplicate environment variable", "%s env: %q is already set at %s.", what, it.key, prev)
			continue
		}
		if strings.ContainsRune(it.val, 0) {
			d.errorf(it.valueRng, "Invalid environment variable value", "%s env: the value of %q must not contain a NUL byte.", what, it.key)
			continue
		}
		seen[it.key] = it.keyRng
		p.Env[it.key] = it.val
	}
}

// dirs decodes a plugin's directory grants: { "/guest/path" = "host/path" },
// read-only unless the host path ends in ":rw" (":ro" is also accepted).
func (d *decoder) dirs(expr hcl.Expression, what string) []Dir {
	items, ok := d.strMap(expr, what+" dirs")
	if !ok {
		return nil
	}
	var out []Dir
	seen := map[string]hcl.Range{}
	for _, it := range items {
		guest := it.key
		if !strings.HasPrefix(guest, "/") || path.Clean(guest) != guest || strings.ContainsRune(guest, 0) {
			d.errorf(it.keyRng, "Invalid directory grant",
				"%s dirs: the guest path %q must be absolute and clean, like \"/data\".", what, guest)
			continue
		}
		if prev, dup := seen[guest]; dup {
			d.errorf(it.keyRng, "Duplicate directory grant", "%s dirs: %q is already granted at %s.", what, guest, prev)
			continue
		}
		seen[guest] = it.keyRng
		host, writable := it.val, false
		if h, ok := strings.CutSuffix(host, ":rw"); ok {
			host, writable = h, true
		} else if h, ok := strings.CutSuffix(host, ":ro"); ok {
			host = h
		}
		if host == "" || strings.ContainsRune(host, 0) {
			d.errorf(it.valueRng, "Invalid directory grant", "%s dirs: %q needs a host folder.", what, guest)
			continue
		}
		out = append(out, Dir{Guest: guest, Host: resolve(d.site.Dir, host), Writable: writable, Range: it.valueRng})
	}
	return out
}

// declared remembers who claimed something first, for "already declared at"
// details.
type declared struct {
	who string
	rng hcl.Range
}

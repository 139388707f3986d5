package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/wasmhost/wasmhost/internal/builtins"
)

// Secret is a setting that must never be shown: it formats as
// "[redacted]", so a config printed in a log or an error cannot leak it.
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// Reveal is the secret itself, for the one place that signs with it.
func (s Secret) Reveal() string { return string(s) }

// minCookieSecret is the shortest cookie_secret accepted: HMAC-SHA256 keys
// shorter than this are guessable.
const minCookieSecret = 16

func (d *decoder) decodeCookieSettings(attrs hcl.Attributes) {
	s := &d.site.Server
	for _, c := range []struct {
		name string
		dst  *Secret
	}{{"cookie_secret", &s.CookieSecret}, {"cookie_secret_previous", &s.CookieSecretPrev}} {
		a := attrs[c.name]
		if a == nil {
			continue
		}
		v, ok := d.str(a.Expr, "server."+c.name)
		if !ok {
			continue
		}
		if len(v) < minCookieSecret {
			// The message never shows the value.
			d.errorf(a.Expr.Range(), "Cookie secret too short",
				"server.%s must be at least %d bytes (32 random bytes, base64-encoded, are a good choice).", c.name, minCookieSecret)
			continue
		}
		*c.dst = Secret(v)
	}
	if a := attrs["cookie_secret_previous"]; a != nil && attrs["cookie_secret"] == nil {
		d.errorf(a.Expr.Range(), "Missing cookie_secret",
			"server.cookie_secret_previous is only used to verify cookies alongside a current server.cookie_secret.")
	}
	if a := attrs["cookie_max_age"]; a != nil {
		if v, ok := d.duration(a.Expr, "server.cookie_max_age"); ok {
			if v <= 0 {
				d.errorf(a.Expr.Range(), "Invalid duration", "server.cookie_max_age must be more than 0.")
			} else {
				s.CookieMaxAge = v
			}
		}
	}
}

// maxCookieScope bounds a cookie_scope: it travels in every signed cookie.
const maxCookieScope = 64

// cookieScope decodes a plugin's cookie_scope: a name like a plugin's
// (letters, digits, "_", "." and "-"), so it cannot contain the "|" that
// separates a signed cookie's fields.
func (d *decoder) cookieScope(attrs hcl.Attributes, p *Plugin, what string) {
	a := attrs["cookie_scope"]
	if a == nil {
		return
	}
	v, ok := d.str(a.Expr, what+" cookie_scope")
	if !ok {
		return
	}
	if err := checkPluginName(v); err != nil || len(v) > maxCookieScope {
		if err == nil {
			err = fmt.Errorf("it must be at most %d bytes", maxCookieScope)
		}
		d.errorf(a.Expr.Range(), "Invalid cookie scope", "%s cookie_scope %q: %s.", what, v, err)
		return
	}
	p.CookieScope = v
}

// middlewareList decodes a plugin's middleware = [...]; whether each name
// exists is checked once every plugin is known (resolveChains).
func (d *decoder) middlewareList(p *Plugin, expr hcl.Expression, what string) {
	items, ok := d.strList(expr, what+" middleware", false)
	if !ok {
		return
	}
	for _, it := range items {
		p.Middleware = append(p.Middleware, it.val)
		p.MiddlewareRanges = append(p.MiddlewareRanges, it.rng)
	}
}

// resolveChains checks every middleware list against the plugins, settles
// the mount of plugins that have none (chain-only when a list names them,
// "/" otherwise until CheckKinds knows whether they are handlers), and expands each plugin's
// chain, reporting cycles and a plugin met twice in one chain.
func (d *decoder) resolveChains() {
	byName := map[string]*Plugin{}
	named := map[string]bool{}
	for i := range d.site.Plugins {
		p := &d.site.Plugins[i]
		byName[p.Name] = p
		if builtins.Is(p.Name) {
			d.errorf(p.Range, "Reserved plugin name",
				"%q is the name of a built-in middleware (%s); give the plugin another name.", p.Name, strings.Join(builtins.Names, ", "))
		}
	}
	for i := range d.site.Plugins {
		p := &d.site.Plugins[i]
		for j, name := range p.Middleware {
			switch {
			case name == p.Name:
				d.errorf(p.MiddlewareRanges[j], "Middleware cycle", "plugin %q names itself in its middleware list.", p.Name)
			case byName[name] != nil:
				named[name] = true
			case !builtins.Is(name):
				d.errorf(p.MiddlewareRanges[j], "Unknown middleware",
					"plugin %q: %q is neither a plugin of this site nor a built-in middleware (%s).", p.Name, name, strings.Join(builtins.Names, ", "))
			}
		}
	}
	for i := range d.site.Plugins {
		p := &d.site.Plugins[i]
		if p.MountSet {
			continue
		}
		if named[p.Name] {
			p.Mount = "" // used only in chains
			continue
		}
		// "/" for a handler; whether it is one, and so whether "/" is
		// free for it, is known once the module is loaded (CheckKinds).
		p.Mount, p.MountDefault = DefaultMount, true
	}
	for i := range d.site.Plugins {
		p := &d.site.Plugins[i]
		if len(p.Middleware) == 0 {
			continue
		}
		chain, ok := d.expand(p, byName, []string{p.Name})
		if !ok {
			continue
		}
		seen := map[string]bool{}
		for _, name := range chain {
			if seen[name] {
				d.errorf(p.MiddlewareRanges[0], "Middleware repeated",
					"plugin %q: %q comes twice in the chain a request goes through (%s).", p.Name, name, strings.Join(append(chain, p.Name), " → "))
				ok = false
				break
			}
			seen[name] = true
		}
		if ok {
			p.Chain = chain
		}
	}
}

// expand is p's chain: for each middleware, its own chain, then itself.
// path holds the plugins being expanded, to find cycles.
func (d *decoder) expand(p *Plugin, byName map[string]*Plugin, path []string) ([]string, bool) {
	var chain []string
	for j, name := range p.Middleware {
		m := byName[name]
		if m == nil {
			if builtins.Is(name) {
				chain = append(chain, name)
			}
			continue
		}
		if name == p.Name {
			return nil, false // reported by resolveChains
		}
		for _, q := range path {
			if q == name {
				d.errorf(p.MiddlewareRanges[j], "Middleware cycle",
					"plugin %q: %s.", p.Name, strings.Join(append(path, name), " → "))
				return nil, false
			}
		}
		sub, ok := d.expand(m, byName, append(path[:len(path):len(path)], name))
		if !ok {
			return nil, false
		}
		chain = append(append(chain, sub...), name)
	}
	return chain, true
}

// CheckKinds checks the plugins' uses against their kinds, which are known
// only once the modules are loaded: a mounted plugin must be a handler, and
// one named in a middleware list a middleware. It also settles the mount of
// plugins that have none and that no list names (MountDefault): a handler
// gets "/" (an error if another plugin mounts it), a middleware none (a
// warning: it serves nothing), so that removing the last chain through a
// middleware does not make it collide with the site's "/". middleware says
// whether a loaded plugin is one; ok false for plugins not loaded (taken as
// handlers for the mount, otherwise left unchecked).
func CheckKinds(site *Site, middleware func(name string) (isMiddleware, ok bool)) hcl.Diagnostics {
	var diags hcl.Diagnostics
	add := func(sev hcl.DiagnosticSeverity, rng hcl.Range, summary, format string, args ...any) {
		r := rng
		diags = append(diags, &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &r})
	}
	mounts := map[string]*Plugin{}
	for i := range site.Plugins {
		if p := &site.Plugins[i]; p.MountSet {
			mounts[p.Mount] = p
		}
	}
	for i := range site.Plugins {
		p := &site.Plugins[i]
		mw, ok := middleware(p.Name)
		switch {
		case p.MountDefault && ok && mw:
			p.Mount = ""
			add(hcl.DiagWarning, p.Range, "Unused middleware",
				"plugin %q is a middleware (it calls sdk.HandleMiddleware) that no middleware list names, so it serves nothing.", p.Name)
		case p.MountDefault && mounts[DefaultMount] != nil:
			prev := mounts[DefaultMount]
			add(hcl.DiagError, p.MountRange, "Duplicate mount",
				"plugin %q has no mount, so it is mounted at \"/\", which plugin %q already mounts (declared at %s); a plugin without a mount is used only in chains when some middleware list names it.",
				p.Name, prev.Name, prev.MountRange)
		case p.MountDefault:
			mounts[DefaultMount] = p
		case ok && mw && p.Mount != "":
			add(hcl.DiagError, p.MountRange, "Middleware mounted as a handler",
				"plugin %q is a middleware (it calls sdk.HandleMiddleware), but mounts it at %s: name it in another plugin's middleware list instead.", p.Name, quote(p.Mount))
		}
		for j, name := range p.Middleware {
			if mw, ok := middleware(name); ok && !mw {
				add(hcl.DiagError, p.MiddlewareRanges[j], "Handler used as middleware",
					"plugin %q: %q is a handler (it calls sdk.Handle), not a middleware (sdk.HandleMiddleware).", p.Name, name)
			}
		}
	}
	return diags
}

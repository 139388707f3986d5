package host

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/wasmhost/wasmhost/host/internal/chain"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/status"
	"github.com/wasmhost/wasmhost/loader"
)

// Middleware chains (host/internal/chain): a plugin with a middleware list
// is served through its links, outermost first, then the plugin itself.
// The site builds them at every load and reload, from the plugins mounted.

// newChains builds the chain of every plugin with a middleware list, after
// checking that each plugin is used as what it is (handler or middleware).
func (s *Server) newChains(st *siteState) error {
	byName := map[string]*mountedPlugin{}
	for _, mp := range st.plugins {
		byName[mp.cfg.Name] = mp
	}
	diags := config.CheckKinds(st.site, func(name string) (bool, bool) {
		mp := byName[name]
		if mp == nil {
			return false, false
		}
		p := mp.current.Load().plugin
		if p == nil {
			return false, false // under debug, not loaded yet: its kind is unknown
		}
		return p.Kind == loader.Middleware, true
	})
	if diags.HasErrors() {
		return newConfigError(diags)
	}
	for _, d := range diags { // warnings, such as a middleware that serves nothing
		s.log.Warn(strings.TrimRight(config.FormatDiagnostics(hcl.Diagnostics{d}), "\n"))
	}
	plugins := func(name string) chain.Plugin {
		if mp := byName[name]; mp != nil {
			return servedPlugin{mp}
		}
		return nil
	}
	st.chains = map[*mountedPlugin]*chain.Chain{}
	// From the new site's blocks: a plugin kept from the previous site
	// keeps its old block, which a change of its list alone does not
	// replace (samePlugin).
	for _, pc := range st.site.Plugins {
		mp := byName[pc.Name]
		if len(pc.Chain) == 0 || mp == nil {
			continue
		}
		ch, err := chain.New(pc.Chain, plugins, servedPlugin{mp})
		if err != nil {
			return err // config checked the names
		}
		st.chains[mp] = ch
	}
	return nil
}

// servedPlugin is a mounted plugin as the request path (front.Plugin) and
// a chain (chain.Plugin) serve it.
type servedPlugin struct{ mp *mountedPlugin }

func (p servedPlugin) Config() *config.Plugin { return &p.mp.cfg }
func (p servedPlugin) CountCutTimeout()       { p.mp.totals.cutTimeouts.Add(1) }

func (p servedPlugin) Current() (*loader.Plugin, []byte) {
	lv := p.mp.current.Load()
	return lv.plugin, lv.fixed
}

func (p servedPlugin) Name() string        { return p.mp.cfg.Name }
func (p servedPlugin) Path() string        { return p.mp.cfg.Path }
func (p servedPlugin) CookieScope() string { return p.mp.cfg.CookieScope }
func (p servedPlugin) Log() hclog.Logger   { return p.mp.log }

func (p servedPlugin) Serving() (*loader.Plugin, []byte, string, bool) {
	lv, msg, down := p.mp.serving()
	return lv.plugin, lv.fixed, msg, down
}

func (p servedPlugin) Serves(lp *loader.Plugin) bool { return p.mp.current.Load().plugin == lp }

// siteServices is what guests reach of the site beyond their request: the
// site serving now, whichever a request started under.
type siteServices struct{ s *Server }

func (c siteServices) StaticURL(path string) string { return c.s.staticURL(path) }
func (c siteServices) SignCookie(scope, name, value string) (string, int32) {
	return c.s.signCookie(scope, name, value)
}
func (c siteServices) VerifyCookie(scope, name, signed string) (string, int32) {
	return c.s.verifyCookie(scope, name, signed)
}

// checkSwapKind refuses a new version of a plugin that is not of the kind
// of the version serving: the site's chains were checked against it.
func checkSwapKind(old, new *loader.Plugin) error {
	if old == nil || old.Kind == new.Kind {
		// old is nil under debug for a plugin that has not loaded since the
		// start: its uses were not checked, and are when the site reloads.
		return nil
	}
	return &loader.LoadError{Plugin: new.Name, Path: new.Path, Err: fmt.Errorf(
		"is a %s, but the version serving is a %s: a new version cannot change what a plugin is", new.Kind, old.Kind)}
}

// chainStatus lists the links of each plugin served through a chain, by
// plugin name, as /status shows them.
func (s *Server) chainStatus() map[string][]status.Link {
	st := s.state.Load()
	out := map[string][]status.Link{}
	for mp, ch := range st.chains {
		stats := ch.Stats()
		links := make([]status.Link, len(stats))
		for i, l := range stats {
			links[i] = status.Link(l)
		}
		out[mp.cfg.Name] = links
	}
	return out
}

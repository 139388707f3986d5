package config

import (
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/wasmhost/wasmhost/internal/outbound"
)

// Key-value store backends.
const (
	BackendSQLite = "sqlite" // the default: a file on this host
	BackendRedis  = "redis"
)

// KV is a kv "NAME" {} block: a store that plugins may be granted.
type KV struct {
	Name    string
	Backend string        // BackendSQLite or BackendRedis
	Path    string        // sqlite: absolute; default "<name>.kv" next to site.hcl
	URL     string        // redis: redis:// or rediss:// URL (may hold a password)
	Timeout time.Duration // bound of each operation; DefaultKVTimeout when unset
	Range   hcl.Range     // the block's DefRange
}

// Outbound is the outbound {} block: settings of every plugin's outbound HTTP.
type Outbound struct {
	CAFile string // absolute; extra certificate authorities, "" for the system's only
}

// DefaultKVTimeout bounds each operation of a store whose block sets no
// timeout. It is well below a plugin's default request timeout (10s), so a
// stalled backend leaves the guest the time to answer 503 itself, and far
// above what an operation takes on a healthy one (tens of microseconds on
// loopback, milliseconds across a network).
const DefaultKVTimeout = 2 * time.Second

var kvSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "backend"}, {Name: "path"}, {Name: "url"}, {Name: "timeout"}},
}

func (d *decoder) decodeStores(blocks []*hcl.Block) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		s := KV{Name: b.Labels[0], Backend: BackendSQLite, Timeout: DefaultKVTimeout, Range: b.DefRange}
		what := "kv " + quote(s.Name)
		if err := checkPluginName(s.Name); err != nil {
			d.errorf(b.LabelRanges[0], "Invalid store name", "%s: %s.", what, strings.Replace(err.Error(), "plugin", "store", 1))
			continue
		}
		if prev, dup := seen[s.Name]; dup {
			d.errorf(b.DefRange, "Duplicate kv block", "A store named %q was already declared at %s.", s.Name, prev)
			continue
		}
		seen[s.Name] = b.DefRange
		content, diags := b.Body.Content(kvSchema)
		d.diags = append(d.diags, diags...)
		attrs := content.Attributes
		if a := attrs["backend"]; a != nil {
			if v, ok := d.str(a.Expr, what+" backend"); ok {
				if v != BackendSQLite && v != BackendRedis {
					d.errorf(a.Expr.Range(), "Unknown key-value backend", "%s backend is %q; it must be \"sqlite\" or \"redis\".", what, v)
				}
				s.Backend = v
			}
		}
		if a := attrs["timeout"]; a != nil {
			if v, ok := d.duration(a.Expr, what+" timeout"); ok {
				if v <= 0 {
					d.errorf(a.Expr.Range(), "Invalid duration", "%s timeout must be above 0s: every operation needs a bound.", what)
				}
				s.Timeout = v
			}
		}
		switch s.Backend {
		case BackendSQLite:
			s.Path = resolve(d.site.Dir, s.Name+".kv")
			if a := attrs["path"]; a != nil {
				if v, ok := d.path(a.Expr, what+" path"); ok {
					s.Path = v
				}
			}
			if a := attrs["url"]; a != nil {
				d.errorf(a.Expr.Range(), "Unexpected argument", "%s: url is for backend = \"redis\"; an sqlite store has a path.", what)
			}
		case BackendRedis:
			if a := attrs["url"]; a != nil {
				// The URL may come from env() with a password in it: the
				// messages below never repeat it.
				if v, ok := d.str(a.Expr, what+" url"); ok {
					if !strings.HasPrefix(v, "redis://") && !strings.HasPrefix(v, "rediss://") && !strings.HasPrefix(v, "unix://") {
						d.errorf(a.Expr.Range(), "Invalid redis url", "%s url must start with redis://, rediss:// or unix://.", what)
					}
					s.URL = v
				}
			} else {
				d.errorf(b.DefRange, "Missing required argument", "%s has backend = \"redis\" and needs url = \"redis://host:6379/0\".", what)
			}
			if a := attrs["path"]; a != nil {
				d.errorf(a.Expr.Range(), "Unexpected argument", "%s: path is for backend = \"sqlite\"; a redis store has a url.", what)
			}
		}
		// Kept even when invalid (Parse then returns no site), so that a
		// plugin granting it gets no second, misleading "unknown store".
		d.site.KV = append(d.site.KV, s)
	}
}

var outboundSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "ca_file"}}}

func (d *decoder) decodeOutbound(b *hcl.Block) *Outbound {
	content, diags := b.Body.Content(outboundSchema)
	d.diags = append(d.diags, diags...)
	o := &Outbound{}
	if a := content.Attributes["ca_file"]; a != nil {
		if v, ok := d.path(a.Expr, "outbound ca_file"); ok {
			o.CAFile = v
		}
	}
	return o
}

// decodeServices decodes a plugin's grants: kv and allowed_hosts.
func (d *decoder) decodeServices(attrs hcl.Attributes, p *Plugin, what string) {
	if a := attrs["kv"]; a != nil {
		items, _ := d.strList(a.Expr, what+" kv", false)
		seen := map[string]bool{}
		for _, it := range items {
			if !d.declaredStore(it.val) {
				d.errorf(it.rng, "Unknown key-value store", "%s kv grants %q, but no kv %q {} block declares it.", what, it.val, it.val)
				continue
			}
			if !seen[it.val] {
				seen[it.val] = true
				p.KV = append(p.KV, it.val)
			}
		}
	}
	if a := attrs["allowed_hosts"]; a != nil {
		items, _ := d.strList(a.Expr, what+" allowed_hosts", false)
		for _, it := range items {
			r, err := outbound.ParseRule(it.val)
			if err != nil {
				d.errorf(it.rng, "Invalid allowed_hosts entry", "%s allowed_hosts %q: %s.", what, it.val, err)
				continue
			}
			p.AllowedHosts = append(p.AllowedHosts, r)
		}
	}
}

func (d *decoder) declaredStore(name string) bool {
	for _, s := range d.site.KV {
		if s.Name == name {
			return true
		}
	}
	return false
}

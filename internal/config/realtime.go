package config

import (
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Pubsub backends.
const (
	PubsubLocal = "local" // the default: every worker of this host
	PubsubRedis = "redis" // every host sharing the Redis server
)

// Defaults of a plugin's websocket block.
const (
	DefaultWSMaxMessageSize = 10 << 20 // as Tornado's websocket_max_message_size
	DefaultWSMaxConnections = 10000
	DefaultWSSendBuffer     = 1 << 20
	MaxWSConnections        = 1 << 20
)

// Pubsub is a pubsub "NAME" {} block: topics that WebSocket connections and
// event streams subscribe to, which plugins may be granted.
type Pubsub struct {
	Name    string
	Backend string    // PubsubLocal or PubsubRedis
	URL     string    // redis only: redis://, rediss:// or unix:// URL (may hold a password)
	Range   hcl.Range // the block's DefRange
}

// WebSocket is a plugin's websocket {} block: the plugin accepts WebSocket
// upgrades on its mount, held by the host.
type WebSocket struct {
	MaxMessageSize int64         // a larger message closes the connection with 1009
	PingInterval   time.Duration // 0: no pings (the default)
	PingTimeout    time.Duration // no pong this long after a ping closes the connection; default PingInterval
	Origins        []string      // Origin hosts allowed besides the request's own Host; "*" = any
	Compression    bool          // negotiate permessage-deflate
	MaxConnections int           // per worker; more upgrades get 503
	SendBuffer     int64         // queued outgoing bytes per connection; past it closed with 1008
	Range          hcl.Range     // the block's DefRange
}

var pubsubSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "backend"}, {Name: "url"}},
}

// decodePubsubs decodes the top-level pubsub blocks.
func (d *decoder) decodePubsubs(blocks []*hcl.Block) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		ps := Pubsub{Name: b.Labels[0], Backend: PubsubLocal, Range: b.DefRange}
		what := "pubsub " + quote(ps.Name)
		if err := checkPluginName(ps.Name); err != nil {
			d.errorf(b.LabelRanges[0], "Invalid pubsub name", "%s: %s.", what, strings.Replace(err.Error(), "plugin", "pubsub", 1))
			continue
		}
		if prev, dup := seen[ps.Name]; dup {
			d.errorf(b.DefRange, "Duplicate pubsub block", "A pubsub block named %q was already declared at %s.", ps.Name, prev)
			continue
		}
		seen[ps.Name] = b.DefRange
		content, diags := b.Body.Content(pubsubSchema)
		d.diags = append(d.diags, diags...)
		attrs := content.Attributes
		if a := attrs["backend"]; a != nil {
			if v, ok := d.str(a.Expr, what+" backend"); ok {
				if v != PubsubLocal && v != PubsubRedis {
					d.errorf(a.Expr.Range(), "Unknown pubsub backend", "%s backend is %q; it must be \"local\" or \"redis\".", what, v)
				}
				ps.Backend = v
			}
		}
		a := attrs["url"]
		switch {
		case ps.Backend == PubsubRedis && a == nil:
			d.errorf(b.DefRange, "Missing required argument", "%s has backend = \"redis\" and needs url = \"redis://host:6379/0\".", what)
		case ps.Backend == PubsubRedis:
			// The URL may come from env() with a password: never repeated.
			if v, ok := d.str(a.Expr, what+" url"); ok {
				if !strings.HasPrefix(v, "redis://") && !strings.HasPrefix(v, "rediss://") && !strings.HasPrefix(v, "unix://") {
					d.errorf(a.Expr.Range(), "Invalid redis url", "%s url must start with redis://, rediss:// or unix://.", what)
				}
				ps.URL = v
			}
		case a != nil:
			d.errorf(a.Expr.Range(), "Unexpected argument", "%s: url is for backend = \"redis\"; a local pubsub needs none.", what)
		}
		// Kept even when invalid, so a grant of it gets no second error.
		d.site.Pubsub = append(d.site.Pubsub, ps)
	}
}

// decodePubsubGrant reads a plugin's pubsub = ["NAME"]. A plugin is granted
// at most one block: its connections, streams and publishes all live in
// one hub, so a topic name means one thing to the plugin.
func (d *decoder) decodePubsubGrant(attrs hcl.Attributes, p *Plugin, what string) {
	a := attrs["pubsub"]
	if a == nil {
		return
	}
	items, _ := d.strList(a.Expr, what+" pubsub", false)
	for _, it := range items {
		if !d.declaredPubsub(it.val) {
			d.errorf(it.rng, "Unknown pubsub block", "%s pubsub grants %q, but no pubsub %q {} block declares it.", what, it.val, it.val)
			continue
		}
		if p.Pubsub != "" && p.Pubsub != it.val {
			d.errorf(it.rng, "More than one pubsub grant",
				"%s pubsub grants %q and %q; a plugin's topics live in one pubsub block, so grant one.", what, p.Pubsub, it.val)
			continue
		}
		p.Pubsub = it.val
	}
}

func (d *decoder) declaredPubsub(name string) bool {
	for _, ps := range d.site.Pubsub {
		if ps.Name == name {
			return true
		}
	}
	return false
}

var websocketSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "max_message_size"}, {Name: "ping_interval"}, {Name: "ping_timeout"}, {Name: "origins"},
		{Name: "compression"}, {Name: "max_connections"}, {Name: "send_buffer"},
	},
}

// decodeWebSockets reads a plugin's websocket block, refusing a second.
func (d *decoder) decodeWebSockets(blocks hcl.Blocks, p *Plugin, what string) {
	for _, b := range blocks {
		if b.Type != "websocket" {
			continue
		}
		if p.WebSocket != nil {
			d.errorf(b.DefRange, "Duplicate websocket block",
				"Only one websocket block is allowed in %s; the first one was declared at %s.", what, p.WebSocket.Range)
			continue
		}
		p.WebSocket = d.decodeWebSocket(b, what+" websocket")
	}
}

func (d *decoder) decodeWebSocket(b *hcl.Block, what string) *WebSocket {
	ws := &WebSocket{
		MaxMessageSize: DefaultWSMaxMessageSize,
		MaxConnections: DefaultWSMaxConnections,
		SendBuffer:     DefaultWSSendBuffer,
		Origins:        []string{},
		Range:          b.DefRange,
	}
	content, diags := b.Body.Content(websocketSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	for _, s := range []struct {
		name string
		dst  *int64
	}{{"max_message_size", &ws.MaxMessageSize}, {"send_buffer", &ws.SendBuffer}} {
		if a := attrs[s.name]; a != nil {
			if n, ok := d.size(a.Expr, what+" "+s.name); ok {
				if n <= 0 {
					d.errorf(a.Expr.Range(), "Invalid size", "%s %s must be more than 0.", what, s.name)
				} else {
					*s.dst = n
				}
			}
		}
	}
	pingTimeoutSet := false
	for _, t := range []struct {
		name string
		dst  *time.Duration
		set  *bool
	}{{"ping_interval", &ws.PingInterval, nil}, {"ping_timeout", &ws.PingTimeout, &pingTimeoutSet}} {
		if a := attrs[t.name]; a != nil {
			if v, ok := d.duration(a.Expr, what+" "+t.name); ok {
				*t.dst = v
				if t.set != nil {
					*t.set = true
				}
			}
		}
	}
	if !pingTimeoutSet {
		ws.PingTimeout = ws.PingInterval
	} else if ws.PingTimeout <= 0 && ws.PingInterval > 0 {
		d.errorf(attrs["ping_timeout"].Expr.Range(), "Invalid duration", "%s ping_timeout must be more than 0 when pings are sent.", what)
	}
	if a := attrs["origins"]; a != nil {
		items, _ := d.strList(a.Expr, what+" origins", false)
		for _, it := range items {
			if it.val == "" || strings.ContainsAny(it.val, "/ ") {
				d.errorf(it.rng, "Invalid origin", "%s origins: %q must be a host name (\"app.example.com\", \"*.example.com\") or \"*\", without a scheme.", what, it.val)
				continue
			}
			ws.Origins = append(ws.Origins, it.val)
		}
	}
	if a := attrs["compression"]; a != nil {
		if v, ok := d.boolean(a.Expr, what+" compression"); ok {
			ws.Compression = v
		}
	}
	if a := attrs["max_connections"]; a != nil {
		if n, ok := d.integer(a.Expr, what+" max_connections", 1, MaxWSConnections); ok {
			ws.MaxConnections = int(n)
		}
	}
	return ws
}

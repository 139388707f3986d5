package config

import (
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Request bodies and slow clients: how much of a body is read before a
// plugin instance is taken, and how slowly a body may arrive.
const (
	DefaultBodyReadAhead    = 64 << 10        // body_read_ahead
	DefaultMinBodyRate      = 240             // min_body_rate, bytes per second (Kestrel's)
	DefaultMinBodyRateGrace = 5 * time.Second // min_body_rate_grace (Kestrel's)
)

// BodyReading is a server's or a plugin's body settings; a plugin starts
// from the server's and overrides what it sets.
type BodyReading struct {
	ReadAhead    int64         // body_read_ahead: bytes read before the guest is called
	MinRate      int64         // min_body_rate: bytes per second; 0 = no minimum
	MinRateGrace time.Duration // min_body_rate_grace: the rate is checked only after this
}

// DefaultBodyReading is what a site without body settings uses.
func DefaultBodyReading() BodyReading {
	return BodyReading{ReadAhead: DefaultBodyReadAhead, MinRate: DefaultMinBodyRate, MinRateGrace: DefaultMinBodyRateGrace}
}

// decodeBodyReading overrides dst with the body settings among attrs;
// prefix names the block in messages ("server.", `plugin "a" `).
func (d *decoder) decodeBodyReading(attrs hcl.Attributes, prefix string, dst *BodyReading) {
	if a := attrs["body_read_ahead"]; a != nil {
		if n, ok := d.size(a.Expr, prefix+"body_read_ahead"); ok {
			dst.ReadAhead = n
			d.warnReadAhead(n, a.Expr.Range(), prefix)
		}
	}
	if a := attrs["min_body_rate"]; a != nil {
		if n, ok := d.rate(a.Expr, prefix+"min_body_rate"); ok {
			dst.MinRate = n
		}
	}
	if a := attrs["min_body_rate_grace"]; a != nil {
		if v, ok := d.duration(a.Expr, prefix+"min_body_rate_grace"); ok {
			dst.MinRateGrace = v
		}
	}
}

// warnReadAhead points out a read-ahead that max_body_size makes moot: no
// body is read past max_body_size, ahead or not.
func (d *decoder) warnReadAhead(n int64, rng hcl.Range, what string) {
	if n > d.site.Server.MaxBodySize {
		d.warnf(rng, "Read-ahead past max_body_size",
			"%sbody_read_ahead (%s) is more than server.max_body_size (%s): bodies are read ahead up to max_body_size only.",
			what, FormatSize(n), FormatSize(d.site.Server.MaxBodySize))
	}
}

// rate decodes a data rate: "240B/s", "1KB/s", or a number of bytes per
// second. A size without "/s" is refused, so that a rate never reads as an
// amount.
func (d *decoder) rate(expr hcl.Expression, what string) (int64, bool) {
	v, ok := d.value(expr, what)
	if !ok {
		return 0, false
	}
	if v.Type() == cty.Number {
		return d.size(expr, what)
	}
	if v.Type() != cty.String {
		d.typeError(expr, what, `a rate such as "240B/s" or a number of bytes per second`, v.Type())
		return 0, false
	}
	s, perSecond := strings.CutSuffix(strings.TrimSpace(v.AsString()), "/s")
	if !perSecond {
		d.errorf(expr.Range(), "Invalid rate", "%s: %q is not a rate; write it per second, such as \"240B/s\" or \"1KB/s\".", what, v.AsString())
		return 0, false
	}
	n, err := ParseSize(s)
	if err != nil {
		d.errorf(expr.Range(), "Invalid rate", "%s: %s.", what, err)
		return 0, false
	}
	return n, true
}

package config

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// decoder accumulates diagnostics while a file is decoded, so that each
// helper can report and carry on and the user sees every problem at once.
type decoder struct {
	site  *Site
	diags hcl.Diagnostics

	eval    *hcl.EvalContext // env(), recording what it read (env.go)
	secrets []string         // values read from the environment

	pluginNames map[string]hcl.Range // name -> first DefRange
	mounts      map[string]declared  // normalized mount -> first plugin
}

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

func (d *decoder) warnf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// value evaluates a literal expression. Null is refused here once, rather
// than in each typed helper, because no setting has a meaningful null.
func (d *decoder) value(expr hcl.Expression, what string) (cty.Value, bool) {
	v, diags := expr.Value(d.eval)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if v.IsNull() {
		d.errorf(expr.Range(), "Invalid value", "%s must not be null.", what)
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.errorf(expr.Range(), "Invalid value", "%s must be a literal value.", what)
		return cty.NilVal, false
	}
	return v, true
}

func (d *decoder) typeError(expr hcl.Expression, what, want string, got cty.Type) {
	d.errorf(expr.Range(), "Incorrect attribute value type",
		"%s must be %s, not %s.", what, want, article(got.FriendlyName()))
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

func (d *decoder) str(expr hcl.Expression, what string) (string, bool) {
	v, ok := d.value(expr, what)
	if !ok {
		return "", false
	}
	if v.Type() != cty.String {
		d.typeError(expr, what, "a string", v.Type())
		return "", false
	}
	return v.AsString(), true
}

func (d *decoder) boolean(expr hcl.Expression, what string) (bool, bool) {
	v, ok := d.value(expr, what)
	if !ok {
		return false, false
	}
	if v.Type() != cty.Bool {
		d.typeError(expr, what, "true or false", v.Type())
		return false, false
	}
	return v.True(), true
}

// integer accepts whole numbers in [lo, hi].
func (d *decoder) integer(expr hcl.Expression, what string, lo, hi int64) (int64, bool) {
	v, ok := d.value(expr, what)
	if !ok {
		return 0, false
	}
	if v.Type() != cty.Number {
		d.typeError(expr, what, "a whole number", v.Type())
		return 0, false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		d.errorf(expr.Range(), "Invalid value", "%s must be a whole number, not %s.", what, bf.Text('g', -1))
		return 0, false
	}
	n, acc := bf.Int64()
	if acc != big.Exact || n < lo || n > hi {
		if hi == math.MaxInt64 {
			d.errorf(expr.Range(), "Invalid value", "%s must be at least %d, not %s.", what, lo, bf.Text('f', 0))
		} else {
			d.errorf(expr.Range(), "Invalid value", "%s must be between %d and %d, not %s.", what, lo, hi, bf.Text('f', 0))
		}
		return 0, false
	}
	return n, true
}

func (d *decoder) duration(expr hcl.Expression, what string) (time.Duration, bool) {
	v, ok := d.value(expr, what)
	if !ok {
		return 0, false
	}
	if v.Type() != cty.String {
		// A bare number is ambiguous (seconds? milliseconds?), so refuse it.
		d.typeError(expr, what, `a duration string such as "10s" or "200ms"`, v.Type())
		return 0, false
	}
	dur, err := ParseDuration(v.AsString())
	if err != nil {
		d.errorf(expr.Range(), "Invalid duration", "%s: %s.", what, err)
		return 0, false
	}
	return dur, true
}

// size accepts a size string ("64MB") or a plain number of bytes.
func (d *decoder) size(expr hcl.Expression, what string) (int64, bool) {
	v, ok := d.value(expr, what)
	if !ok {
		return 0, false
	}
	switch v.Type() {
	case cty.String:
		n, err := ParseSize(v.AsString())
		if err != nil {
			d.errorf(expr.Range(), "Invalid size", "%s: %s.", what, err)
			return 0, false
		}
		return n, true
	case cty.Number:
		n, err := ParseSize(v.AsBigFloat().Text('f', -1))
		if err != nil {
			d.errorf(expr.Range(), "Invalid size", "%s: %s.", what, err)
			return 0, false
		}
		return n, true
	}
	d.typeError(expr, what, `a size such as "64MB" or a number of bytes`, v.Type())
	return 0, false
}

// path resolves a file-relative path; existence is the user's business
// (checked with the range by whoever opens the file).
func (d *decoder) path(expr hcl.Expression, what string) (string, bool) {
	p, ok := d.str(expr, what)
	if !ok {
		return "", false
	}
	if p == "" {
		d.errorf(expr.Range(), "Invalid path", "%s must not be empty.", what)
		return "", false
	}
	return resolve(d.site.Dir, p), true
}

// listItem is one element of a list attribute, with its own range when the
// list is written as a literal (always, in practice) so that a bad element is
// underlined alone.
type listItem struct {
	val string
	rng hcl.Range
}

// strList returns the string elements; ok is false only when the value is not
// a list at all. Bad elements are reported and left out, so that callers still
// validate the good ones and the user sees every problem in one run.
func (d *decoder) strList(expr hcl.Expression, what string, nonEmpty bool) (items []listItem, ok bool) {
	v, ok := d.value(expr, what)
	if !ok {
		return nil, false
	}
	t := v.Type()
	if !t.IsTupleType() && !t.IsListType() && !t.IsSetType() {
		d.typeError(expr, what, "a list of strings", t)
		return nil, false
	}
	if nonEmpty && v.LengthInt() == 0 {
		d.errorf(expr.Range(), "Invalid value", "%s must not be empty.", what)
		return nil, false
	}
	exprs, _ := hcl.ExprList(expr)
	if len(exprs) != v.LengthInt() {
		exprs = nil
	}
	items = make([]listItem, 0, v.LengthInt())
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		rng := expr.Range()
		if exprs != nil {
			rng = exprs[i].Range()
		}
		if ev.IsNull() || ev.Type() != cty.String {
			name := "null"
			if !ev.IsNull() {
				name = article(ev.Type().FriendlyName())
			}
			d.errorf(rng, "Incorrect attribute value type",
				"%s must be a list of strings; element %d is %s.", what, i, name)
			continue
		}
		items = append(items, listItem{ev.AsString(), rng})
	}
	return items, true
}

type mapItem struct {
	key, val         string
	keyRng, valueRng hcl.Range
}

// strMap decodes an object of strings, like strList: ok is false only when
// the value is not an object. Keys are taken from the literal key expressions
// so that duplicates (which HCL would silently merge) are caught.
func (d *decoder) strMap(expr hcl.Expression, what string) ([]mapItem, bool) {
	v, ok := d.value(expr, what)
	if !ok {
		return nil, false
	}
	t := v.Type()
	if !t.IsObjectType() && !t.IsMapType() {
		d.typeError(expr, what, `an object of strings such as { NAME = "value" }`, t)
		return nil, false
	}
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		// Not a literal object; fall back to the value with the whole range.
		var items []mapItem
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if ev.IsNull() || ev.Type() != cty.String {
				d.errorf(expr.Range(), "Incorrect attribute value type", "%s: the value of %q must be a string.", what, k.AsString())
				continue
			}
			items = append(items, mapItem{k.AsString(), ev.AsString(), expr.Range(), expr.Range()})
		}
		return items, true
	}
	items := make([]mapItem, 0, len(pairs))
	for _, kv := range pairs {
		kval, kdiags := kv.Key.Value(d.eval)
		d.diags = append(d.diags, kdiags...)
		if kdiags.HasErrors() {
			continue
		}
		if kval.IsNull() || kval.Type() != cty.String {
			d.errorf(kv.Key.Range(), "Invalid key", "%s: keys must be names or strings.", what)
			continue
		}
		vval, vdiags := kv.Value.Value(d.eval)
		d.diags = append(d.diags, vdiags...)
		if vdiags.HasErrors() {
			continue
		}
		if vval.IsNull() || vval.Type() != cty.String {
			name := "null"
			if !vval.IsNull() {
				name = article(vval.Type().FriendlyName())
			}
			d.errorf(kv.Value.Range(), "Incorrect attribute value type",
				"%s: the value of %q must be a string, not %s.", what, kval.AsString(), name)
			continue
		}
		items = append(items, mapItem{kval.AsString(), vval.AsString(), kv.Key.Range(), kv.Value.Range()})
	}
	return items, true
}

// setEngine sets *dst from an engine attribute, if present: one of Engines.
func (d *decoder) setEngine(attrs hcl.Attributes, what string, dst *string) {
	a := attrs["engine"]
	if a == nil {
		return
	}
	v, ok := d.str(a.Expr, what)
	if !ok {
		return
	}
	if !slices.Contains(Engines, v) {
		d.errorf(a.Expr.Range(), "Unknown engine", "%s %q is not an engine of this wasmhost; choose one of: %s.",
			what, v, strings.Join(quoteAll(Engines), ", "))
		return
	}
	*dst = v
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}

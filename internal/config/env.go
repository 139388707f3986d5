package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// evalContext is what expressions in site.hcl may use: env("NAME") and
// env("NAME", "default"), so that secrets (API keys, a Redis password)
// live in the environment of the process instead of in the file. A
// variable set to the empty string counts as set. The values it reads are
// recorded, for redactSecrets.
func (d *decoder) evalContext() *hcl.EvalContext {
	env := function.New(&function.Spec{
		Description: "The value of an environment variable of the wasmhost process.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default value")
			}
			name := args[0].AsString()
			if v, ok := os.LookupEnv(name); ok {
				d.secrets = append(d.secrets, v)
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf("environment variable %q is not set (give a default as env(%q, \"...\") if it is optional)", name, name)
		},
	})
	return &hcl.EvalContext{Functions: map[string]function.Function{"env": env}}
}

// minSecretLen is the shortest environment value redacted from messages:
// shorter ones ("1", "on") would mangle messages and protect nothing.
const minSecretLen = 4

// redactSecrets replaces every value read from the environment in the
// diagnostics' texts: a message quoting a bad value (an invalid
// duration, say) must not print a secret to a terminal or a log.
func (d *decoder) redactSecrets() {
	var pairs []string
	for _, s := range d.secrets {
		if len(s) >= minSecretLen {
			pairs = append(pairs, s, "(value from env)")
		}
	}
	if len(pairs) == 0 {
		return
	}
	r := strings.NewReplacer(pairs...)
	for _, diag := range d.diags {
		diag.Summary = r.Replace(diag.Summary)
		diag.Detail = r.Replace(diag.Detail)
	}
}

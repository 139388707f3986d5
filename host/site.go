package host

import (
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/hostconfig"
)

// Site is a validated site.hcl, ready to serve. It does not change once
// made.
type Site struct {
	cfg *config.Site
}

func init() {
	hostconfig.Register(func(c *config.Site) any { return &Site{cfg: c} })
}

// LoadSite reads and validates a site.hcl; paths in it are relative to its
// folder. A file that does not hold together is a *ConfigError.
func LoadSite(path string) (*Site, error) {
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		return nil, newConfigError(diags)
	}
	return &Site{cfg: cfg}, nil
}

// ConfigError is a site.hcl that does not hold together, found when it is
// read or once its plugins are loaded (a handler named in a middleware
// list, say). Each problem is one line, "site.hcl:7,3-9: what is wrong".
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string { return strings.Join(e.Problems, "\n") }

func newConfigError(diags hcl.Diagnostics) *ConfigError {
	e := &ConfigError{}
	for _, d := range diags {
		if line := strings.TrimRight(config.FormatDiagnostics(hcl.Diagnostics{d}), "\n"); line != "" {
			e.Problems = append(e.Problems, line)
		}
	}
	return e
}

// Package hostconfig is where the site's configuration (internal/config)
// meets the packages that serve it. It turns a plugin block into what the
// loader takes, and a validated *config.Site into the opaque host.Site that
// package host's API takes: cmd/wasmhost reads site.hcl and applies its
// command line to the configuration, then hands the result to the host
// without the host's public API naming an internal type.
//
// Package host registers the wrapping (Register) when it is initialized;
// this package cannot import host, which imports it.
package hostconfig

import (
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/loader"
)

var wrap func(*config.Site) any

// Register sets how a configuration becomes a host.Site. Package host
// calls it once, from its init.
func Register(f func(*config.Site) any) { wrap = f }

// Site is the host.Site (T) of site, a validated configuration that must
// not change once served.
func Site[T any](site *config.Site) T { return wrap(site).(T) }

// LoaderConfig is what the loader needs of a plugin block: the same for
// the server that serves the plugin and for wasmhost check, which loads it
// to validate it. The request timeout also bounds each instance's
// initialization.
func LoaderConfig(pc config.Plugin) loader.Config {
	var dirs []loader.Dir
	for _, d := range pc.Dirs {
		dirs = append(dirs, loader.Dir{Guest: d.Guest, Host: d.Host, Writable: d.Writable})
	}
	return loader.Config{
		Dirs:        dirs,
		Name:        pc.Name,
		Path:        pc.Path,
		Instances:   pc.Instances,
		MemoryLimit: pc.MemoryLimit,
		Engine:      pc.Engine,
		Env:         pc.Env,
		InitTimeout: pc.Timeout,
	}
}

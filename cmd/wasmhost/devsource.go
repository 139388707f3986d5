package main

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/build"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/devbuild"
)

// devSources are the Builders of a debug server's plugins that have a
// source, and the outcome of their first build.
type devSources struct {
	builders []*devbuild.Builder
	failed   map[string]error // plugin name → why its build at start failed
}

// buildSources (debug only) builds each plugin whose .wasm is missing or
// older than its source, before the server loads them. A failed build does
// not stop the start: the plugin serves the error page (see attach).
func buildSources(ctx context.Context, site *config.Site, log hclog.Logger) *devSources {
	d := &devSources{failed: map[string]error{}}
	for _, pc := range site.Plugins {
		if pc.Source == "" {
			continue
		}
		b := &devbuild.Builder{
			Name:    pc.Name,
			Options: build.Options{PkgDir: pc.Source, Output: pc.Path, InstallFailingInit: true},
			Log:     log.Named(pc.Name).Named("build"),
		}
		d.builders = append(d.builders, b)
		if err := b.BuildIfStale(ctx); err != nil {
			log.Error("plugin source does not build", "plugin", pc.Name, "error", err)
			d.failed[pc.Name] = err
		}
	}
	return d
}

// attach shows the failures of the first builds on the plugins' requests
// and rebuilds on every change of their sources until ctx ends; the
// server's .wasm watcher swaps in what a rebuild writes.
func (d *devSources) attach(ctx context.Context, srv *host.Server, log hclog.Logger) {
	for _, b := range d.builders {
		name := b.Name
		if err := d.failed[name]; err != nil {
			srv.SetPluginFailure(name, failureText(err))
		}
		b.OnResult = func(err error) {
			if err == nil {
				// Swap now rather than when the file watcher gets to it, so
				// that the error page, if any, gives way to the new version
				// and not to the last one that built.
				if res, rerr := srv.ReloadPlugin(name); rerr == nil && res.Error != "" {
					err = errors.New(res.Error)
				}
			}
			srv.SetPluginFailure(name, failureText(err))
		}
		if err := b.Watch(ctx); err != nil {
			log.Warn("cannot watch a plugin's source; it is not rebuilt on change", "plugin", name, "error", err)
		}
	}
}

// failureText is what a plugin's requests show for a build outcome: the
// compiler's messages, or "" when it built.
func failureText(err error) string {
	if err == nil {
		return ""
	}
	var ce *devbuild.CompileError
	if errors.As(err, &ce) && ce.Output != "" {
		return "the plugin's source does not compile:\n\n" + ce.Output
	}
	return err.Error()
}

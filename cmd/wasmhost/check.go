package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/devbuild"
	"github.com/wasmhost/wasmhost/loader"
	"github.com/wasmhost/wasmhost/static"
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: wasmhost check SITE.hcl") }
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	site, ok := loadSite(fs.Arg(0), stderr)
	if !ok {
		return exitUsage
	}
	cacheDir, _ := loader.DefaultCacheDir()
	l, err := loader.New(loader.Options{CacheDir: cacheDir, CacheSize: site.Server.CacheSize})
	if err != nil {
		fmt.Fprintf(stderr, "wasmhost: %v\n", err)
		return exitFailure
	}
	ctx := context.Background()
	defer l.Close(ctx)
	failed := 0
	kinds := map[string]loader.Kind{}
	for _, pc := range site.Plugins {
		if d := sourceDiagnostic(ctx, pc); d != nil {
			fmt.Fprint(stderr, config.FormatDiagnostics(hcl.Diagnostics{d}))
			if d.Severity == hcl.DiagError {
				failed++
				continue
			}
		}
		p, err := l.Load(ctx, host.LoaderConfig(pc))
		if err != nil {
			fmt.Fprintln(stderr, pluginDiagnostic(site, err))
			failed++
			continue
		}
		kinds[pc.Name] = p.Kind
		fmt.Fprintf(stdout, "plugin %q: %s, version %s, ABI %d.%d, %s\n",
			p.Name, relPath(site, p.Path), p.Version, p.ABIMajor, p.ABIMinor, describeUse(p.Kind, pc))
		p.Close()
	}
	if diags := config.CheckKinds(site, func(name string) (bool, bool) {
		k, ok := kinds[name]
		return k == loader.Middleware, ok
	}); len(diags) > 0 {
		fmt.Fprint(stderr, config.FormatDiagnostics(diags))
		failed += len(diags.Errs())
	}
	if st := site.Static; st != nil {
		h, err := static.New(static.Config{Root: st.Path, URLPrefix: st.URLPrefix, HashCache: st.HashCache, RootFiles: st.RootFiles})
		if err != nil {
			fmt.Fprintf(stderr, "%s: static: %v\n", fs.Arg(0), err)
			failed++
		} else {
			h.Close()
		}
	}
	if t := site.Server.TLS; t != nil {
		if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
			fmt.Fprintf(stderr, "%s: tls: %v\n", fs.Arg(0), err)
			failed++
		}
	}
	if failed > 0 {
		noun := "problems"
		if failed == 1 {
			noun = "problem"
		}
		fmt.Fprintf(stderr, "%s: %d %s\n", fs.Arg(0), failed, noun)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: ok\n", fs.Arg(0))
	return exitOK
}

// sourceDiagnostic checks a plugin's source: an error when the folder is
// not there, a warning when path is missing or older than the sources
// (without debug nothing rebuilds it).
func sourceDiagnostic(ctx context.Context, pc config.Plugin) *hcl.Diagnostic {
	if pc.Source == "" {
		return nil
	}
	src, err := devbuild.FindSources(ctx, pc.Source)
	if err != nil {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("plugin %q: %v", pc.Name, err), Subject: &pc.SourceRange}
	}
	if stale, err := devbuild.Stale(src, pc.Path); err == nil && stale {
		return &hcl.Diagnostic{Severity: hcl.DiagWarning,
			Summary: fmt.Sprintf("plugin %q: %s is missing or older than its source; rebuild it: wasmhost build -o %s %s", pc.Name, pc.Path, pc.Path, pc.Source),
			Subject: &pc.PathRange}
	}
	return nil
}

// loadSite parses a site.hcl and prints its diagnostics (warnings too).
func loadSite(path string, stderr io.Writer) (*config.Site, bool) {
	site, diags := config.Load(path)
	if len(diags) > 0 {
		fmt.Fprint(stderr, config.FormatDiagnostics(diags))
	}
	if diags.HasErrors() {
		return nil, false
	}
	return site, true
}

// pluginDiagnostics renders load errors (possibly joined) one per line, each
// at the range of the plugin's path in site.hcl, like config diagnostics.
func pluginDiagnostics(site *config.Site, err error) string {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(pluginDiagnostic(site, e))
		b.WriteByte('\n')
	}
	return b.String()
}

func pluginDiagnostic(site *config.Site, err error) string {
	var le *loader.LoadError
	if !errors.As(err, &le) {
		return err.Error()
	}
	for _, pc := range site.Plugins {
		if pc.Name == le.Plugin {
			d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: le.Error(), Subject: &pc.PathRange}
			return strings.TrimRight(config.FormatDiagnostics(hcl.Diagnostics{d}), "\n")
		}
	}
	return le.Error()
}

// relPath shows a plugin path relative to the site's folder when it is inside.
func relPath(site *config.Site, p string) string {
	if rest, ok := strings.CutPrefix(p, site.Dir+"/"); ok {
		return rest
	}
	return p
}

// describeUse says how the site uses a plugin, for check's summary.
func describeUse(kind loader.Kind, pc config.Plugin) string {
	use := kind.String()
	if pc.Mount != "" {
		use += " mounted at " + pc.Mount
	} else {
		use += " used in chains"
	}
	if len(pc.Chain) > 0 {
		use += ", through " + strings.Join(pc.Chain, " → ")
	}
	return use
}

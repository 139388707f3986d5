package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/devbuild"
	"github.com/wasmhost/wasmhost/internal/hostconfig"
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
	// The site as far as it decodes: every later check that can run on it
	// does, so one run reports every problem (only a syntax error, which
	// leaves nothing to check, stops here).
	site, diags := config.LoadPartial(fs.Arg(0))
	if site != nil {
		cacheDir, _ := loader.DefaultCacheDir()
		l, err := loader.New(loader.Options{CacheDir: cacheDir, CacheSize: site.Server.CacheSize})
		if err != nil {
			fmt.Fprintf(stderr, "wasmhost: %v\n", err)
			return exitFailure
		}
		ctx := context.Background()
		defer l.Close(ctx)
		diags = append(diags, checkPlugins(ctx, l, site, stdout)...)
		diags = append(diags, checkFiles(site)...)
	}
	fmt.Fprint(stderr, config.FormatDiagnostics(config.SortDiagnostics(diags)))
	if failed := len(diags.Errs()); failed > 0 {
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

// checkPlugins loads every plugin that decoded (printing a summary line
// for each that loads), checks the sources and the kinds, and looks for
// the module file of the plugins whose blocks had errors.
func checkPlugins(ctx context.Context, l *loader.Loader, site *config.Site, stdout io.Writer) hcl.Diagnostics {
	var diags hcl.Diagnostics
	kinds := map[string]loader.Kind{}
	for _, pc := range site.Plugins {
		if d := sourceDiagnostic(ctx, pc); d != nil {
			diags = append(diags, d)
			if d.Severity == hcl.DiagError {
				continue
			}
		}
		p, err := l.Load(ctx, hostconfig.LoaderConfig(pc))
		if err != nil {
			diags = append(diags, loadDiagnostics(site, err)...)
			continue
		}
		kinds[pc.Name] = p.Kind
		fmt.Fprintf(stdout, "plugin %q: %s, version %s, ABI %d.%d, %s\n",
			p.Name, relPath(site, p.Path), p.Version, p.ABIMajor, p.ABIMinor, describeUse(p.Kind, pc))
		p.Close()
	}
	for _, pc := range site.Flawed {
		if pc.Path == "" {
			continue
		}
		if _, err := os.Stat(pc.Path); err != nil {
			// Worded as the loader words it for the plugins it loads.
			why := unwrapPathError(err).Error()
			if errors.Is(err, fs.ErrNotExist) {
				why = "no such file"
			}
			rng := pc.PathRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Subject: &rng,
				Summary: fmt.Sprintf("plugin %q (%s): %s", pc.Name, pc.Path, why)})
		}
	}
	return append(diags, config.CheckKinds(site, func(name string) (bool, bool) {
		k, ok := kinds[name]
		return k == loader.Middleware, ok
	})...)
}

// checkFiles opens the static folder and the TLS files.
func checkFiles(site *config.Site) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if st := site.Static; st != nil {
		h, err := static.New(static.Config{Root: st.Path, URLPrefix: st.URLPrefix, HashCache: st.HashCache, RootFiles: st.RootFiles})
		if err != nil {
			rng := st.PathRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: err.Error(), Subject: &rng})
		} else {
			h.Close()
		}
	}
	if t := site.Server.TLS; t != nil {
		if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
			rng := t.Range
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "tls: " + err.Error(), Subject: &rng})
		}
	}
	return diags
}

// unwrapPathError drops the *fs.PathError's operation and path, which the
// diagnostic already shows.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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

// pluginDiagnostics renders load errors (possibly joined) one per line, each
// at the range of the plugin's path in site.hcl, like config diagnostics.
func pluginDiagnostics(site *config.Site, err error) string {
	return config.FormatDiagnostics(loadDiagnostics(site, err))
}

// loadDiagnostics turns load errors (possibly joined) into diagnostics,
// each at the range of its plugin's path in site.hcl; a static folder
// that does not open, at the static block's path.
func loadDiagnostics(site *config.Site, err error) hcl.Diagnostics {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var diags hcl.Diagnostics
	for _, e := range errs {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: e.Error()}
		var le *loader.LoadError
		if errors.As(e, &le) {
			for _, pc := range site.Plugins {
				if pc.Name == le.Plugin {
					rng := pc.PathRange
					d.Subject, d.Summary = &rng, le.Error()
				}
			}
		} else if site.Static != nil && strings.HasPrefix(d.Summary, "static: ") {
			// The static package's errors start so.
			rng := site.Static.PathRange
			d.Subject = &rng
		}
		diags = append(diags, d)
	}
	return diags
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
	if kind == loader.Middleware && pc.MountDefault {
		return use + ", unused: no middleware list names it"
	}
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

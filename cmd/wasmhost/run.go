package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/admin"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/hostconfig"
	"github.com/wasmhost/wasmhost/internal/prefork"
	"github.com/wasmhost/wasmhost/internal/sdnotify"
	"github.com/wasmhost/wasmhost/internal/serving"
	"github.com/wasmhost/wasmhost/internal/version"
	"github.com/wasmhost/wasmhost/internal/worker"
	"github.com/wasmhost/wasmhost/loader"
)

// runOptions are wasmhost run's command line. The flags override
// site.hcl, and are applied again to every reread of it (HUP) and, in a
// worker, to the site its master sends.
type runOptions struct {
	site      string
	listen    stringList
	processes int // -1: as in site.hcl
	debug     bool
	debugSet  bool
	level     hclog.Level
	format    string
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseRunFlags(args, stderr)
	if !ok {
		return code
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name:       "wasmhost",
		Level:      o.level,
		JSONFormat: o.format == "json",
		Output:     stderr,
	})
	if worker.IsWorker() {
		return runWorker(o, log)
	}
	// Take inherited sockets first, so they are closed (not leaked to a
	// child) whatever happens next.
	socks, err := prefork.Inherit()
	if err != nil {
		fmt.Fprintf(stderr, "wasmhost: %v\n", err)
		return exitFailure
	}
	defer socks.Close()
	site, src, diags := o.load()
	if len(diags) > 0 {
		fmt.Fprint(stderr, config.FormatDiagnostics(diags))
	}
	if diags.HasErrors() {
		return exitUsage
	}
	serving.RaiseOpenFiles(log)
	if site.Server.Processes == 1 {
		return serve(o, site, socks, log, stderr)
	}
	warnSourcesNeedOneProcess(site, log)
	if stopWatch := watchSiteFile(site, log); stopWatch != nil {
		defer stopWatch()
	}
	return runMaster(o, site, src, socks, log, stderr)
}

func parseRunFlags(args []string, stderr io.Writer) (o *runOptions, code int, ok bool) {
	o = &runOptions{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Var(&o.listen, "listen", "address to listen on, host:port (repeatable; replaces server.listen)")
	fs.IntVar(&o.processes, "processes", -1, "worker processes (replaces server.processes; 0 = one per CPU, 1 = a single process)")
	fs.BoolVar(&o.debug, "debug", false, "debug mode (replaces server.debug)")
	logLevel := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	fs.StringVar(&o.format, "log-format", "text", "log format: text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wasmhost run [flags] SITE.hcl")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return nil, code, false
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return nil, exitUsage, false
	}
	o.site = fs.Arg(0)
	if o.level = hclog.LevelFromString(*logLevel); o.level == hclog.NoLevel {
		fmt.Fprintf(stderr, "wasmhost: --log-level %q: want trace, debug, info, warn or error\n", *logLevel)
		return nil, exitUsage, false
	}
	if o.format != "text" && o.format != "json" {
		fmt.Fprintf(stderr, "wasmhost: --log-format %q: want text or json\n", o.format)
		return nil, exitUsage, false
	}
	for _, a := range o.listen {
		if err := config.CheckListenAddr(a); err != nil {
			fmt.Fprintf(stderr, "wasmhost: --listen %q: %v\n", a, err)
			return nil, exitUsage, false
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["processes"] && (o.processes < 0 || o.processes > config.MaxProcesses) {
		fmt.Fprintf(stderr, "wasmhost: --processes %d: want 0 (one per CPU) to %d\n", o.processes, config.MaxProcesses)
		return nil, exitUsage, false
	}
	o.debugSet = set["debug"]
	return o, 0, true
}

// load reads and validates site.hcl and applies the flags. It returns the
// bytes it parsed too: a prefork master sends exactly those to its
// workers.
func (o *runOptions) load() (*config.Site, []byte, hcl.Diagnostics) {
	src, err := os.ReadFile(o.site)
	if err != nil {
		site, diags := config.Load(o.site) // the same "cannot read" diagnostic as everywhere
		return site, nil, diags
	}
	site, diags := config.Parse(src, o.site)
	if site != nil {
		if err := o.apply(site); err != nil {
			return nil, src, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: err.Error()})
		}
	}
	return site, src, diags
}

func (o *runOptions) apply(site *config.Site) error {
	if len(o.listen) > 0 {
		// As the file's entries: an https:// entry needs the tls block.
		if err := site.Server.ApplyListen(o.listen); err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
	}
	if o.processes >= 0 {
		site.Server.Processes = o.processes
	}
	if o.debugSet {
		site.ApplyDebug(o.debug)
	}
	return nil
}

// serve runs the site in this process alone (processes = 1): no master,
// no workers. It still takes sockets from systemd or an old process, and
// hands them to a new one on USR2.
func serve(o *runOptions, site *config.Site, socks *prefork.Sockets, log hclog.Logger, stderr io.Writer) int {
	ctx := context.Background()
	l, err := newLoader(site, log)
	if err != nil {
		log.Error("loader", "error", err)
		return exitFailure
	}
	defer l.Close(ctx)

	var sources *devSources
	if site.Server.Debug {
		sources = buildSources(ctx, site, log)
	}
	srv, err := host.New(ctx, host.Options{Site: hostconfig.Site[*host.Site](site), Loader: l, Logger: log, Version: version.Version})
	if err != nil {
		fmt.Fprint(stderr, pluginDiagnostics(site, err))
		return exitUsage
	}
	if sources != nil {
		watchCtx, stopSources := context.WithCancel(ctx)
		defer stopSources()
		sources.attach(watchCtx, srv, log)
	}
	listeners, err := bindListeners(site, socks)
	if err != nil {
		log.Error("cannot listen", "error", err)
		srv.Shutdown(ctx)
		return exitFailure
	}
	// Signals are handled from before anything says "listening": a TERM
	// sent by whoever waits for that line must never find a process that
	// serves but cannot stop gracefully (the default action kills it).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGTTOU)
	defer signal.Stop(sigs)
	sp := &single{o: o, srv: srv, socks: socks, log: log, stderr: stderr, timeout: site.Server.ShutdownTimeout}
	if ln, err := socks.AdminListener(); err != nil {
		log.Error("cannot listen for admin", "error", err)
	} else if ln != nil {
		sp.admin = admin.Serve(ln, srv.AdminHandler(), log)
		defer sp.admin.Close()
	}
	// Watch before saying "listening": an edit right after start must count.
	if stopWatch := watchSiteFile(site, log); stopWatch != nil {
		defer stopWatch()
	}
	addrs := make([]string, len(listeners))
	for i, ln := range listeners {
		addrs[i] = ln.Addr().String()
	}
	serving.Announce(log, site, addrs, version.Version)

	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sp.cancel = cancel
	code := serving.Serve(sctx, serving.Options{
		Server: srv, Listeners: listeners, Site: site.Server, Log: log,
		Signals: sigs, OnSignal: sp.signal,
		Ready:    sp.ready,
		Stopping: sp.stopping,
	})
	if code == exitOK {
		log.Info("stopped")
	}
	return code
}

func newLoader(site *config.Site, log hclog.Logger) (*loader.Loader, error) {
	// The cache is kept under --debug too: it is keyed by the module's
	// content, so it can never serve stale code, and without it every
	// start compiles every plugin again.
	cacheDir, err := loader.DefaultCacheDir()
	if err != nil {
		log.Warn("no compilation cache: no user cache folder", "error", err)
	}
	return loader.New(loader.Options{CacheDir: cacheDir, CacheSize: site.Server.CacheSize, Logger: log.Named("loader")})
}

// osFile is w if it is a file, else fallback: child processes write to
// descriptors, not to Go writers.
func osFile(w io.Writer, fallback *os.File) *os.File {
	if f, ok := w.(*os.File); ok {
		return f
	}
	return fallback
}

// reloadInPlace is SIGHUP for a single process: reread site.hcl (with the
// command line applied again), every plugin and the TLS certificate, in
// place. Anything invalid is reported and the running site kept.
func reloadInPlace(o *runOptions, srv *host.Server, log hclog.Logger) {
	sdnotify.Notify("RELOADING=1")
	defer sdnotify.Notify("READY=1")
	site, _, diags := o.load()
	if diags.HasErrors() {
		log.Error("SIGHUP: site.hcl has errors; the running site keeps serving", "diagnostics", strings.TrimSpace(config.FormatDiagnostics(diags)))
		return
	}
	if err := srv.Reload(context.Background(), hostconfig.Site[*host.Site](site)); err != nil {
		log.Error("SIGHUP: reload refused; the running site keeps serving", "error", err)
		return // the TLS files stay those of the running site
	}
	if site.Server.TLS != nil {
		if err := srv.ReloadTLS(); err != nil {
			log.Error("SIGHUP: TLS certificate not reloaded; the old one stays in use", "error", err)
		} else {
			log.Info("SIGHUP: TLS certificate reloaded", "cert", site.Server.TLS.Cert, "key", site.Server.TLS.Key)
		}
	}
}

// watchSiteFile, in debug mode with autoreload, turns every change of
// site.hcl into a SIGHUP to this process: the reload path is the one an
// operator uses, whether this process serves alone or runs workers. It
// returns nil when there is nothing to watch.
func watchSiteFile(site *config.Site, log hclog.Logger) (stop func()) {
	if !site.Server.Debug || !site.Server.Autoreload {
		return nil
	}
	w, err := loader.NewWatcher(log.Named("watch"), 100*time.Millisecond)
	if err != nil {
		log.Warn("debug: cannot watch site.hcl; send SIGHUP to apply changes", "error", err)
		return nil
	}
	err = w.Watch(site.File, func() {
		log.Info("debug: site.hcl changed; reloading")
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
	})
	if err != nil {
		log.Warn("debug: cannot watch site.hcl; send SIGHUP to apply changes", "error", err)
		w.Close()
		return nil
	}
	return func() { w.Close() }
}

// warnSourcesNeedOneProcess says, once, at the start of a prefork master,
// that the plugins' source settings build nothing there. Rebuilding is the
// single process's work (it shows compiler errors on the plugin's own
// requests, which needs the server that serves them); with several workers
// each would build the same package at once, and the master serves
// nothing to show errors on. Editing and running wasmhost build still
// works: every worker's autoreload swaps the new .wasm in.
func warnSourcesNeedOneProcess(site *config.Site, log hclog.Logger) {
	if !site.Server.Debug {
		return
	}
	var names []string
	for _, pc := range site.Plugins {
		if pc.Source != "" {
			names = append(names, pc.Name)
		}
	}
	if len(names) > 0 {
		log.Warn("source rebuilds need processes = 1: with several worker processes edits to these plugins' sources are not rebuilt (run wasmhost build yourself; every worker swaps the new .wasm in), because rebuilding shows compiler errors on the plugin's requests, which only a single process can do",
			"plugins", strings.Join(names, ", "))
	}
}

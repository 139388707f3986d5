package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/version"
	"github.com/wasmhost/wasmhost/loader"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var listen stringList
	fs.Var(&listen, "listen", "address to listen on, host:port (repeatable; replaces server.listen)")
	processes := fs.Int("processes", -1, "worker processes (replaces server.processes; 0 = one per CPU)")
	debug := fs.Bool("debug", false, "debug mode (replaces server.debug)")
	logLevel := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wasmhost run [flags] SITE.hcl")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		fmt.Fprintf(stderr, "wasmhost: --log-level %q: want trace, debug, info, warn or error\n", *logLevel)
		return exitUsage
	}
	if *logFormat != "text" && *logFormat != "json" {
		fmt.Fprintf(stderr, "wasmhost: --log-format %q: want text or json\n", *logFormat)
		return exitUsage
	}

	site, ok := loadSite(fs.Arg(0), stderr)
	if !ok {
		return exitUsage
	}
	if len(listen) > 0 {
		for _, a := range listen {
			if err := config.CheckListenAddr(a); err != nil {
				fmt.Fprintf(stderr, "wasmhost: --listen %q: %v\n", a, err)
				return exitUsage
			}
		}
		site.Server.Listen = listen
	}
	if *processes >= 0 {
		site.Server.Processes = *processes
	}
	flagSet := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { flagSet[f.Name] = true })
	if flagSet["debug"] {
		site.ApplyDebug(*debug)
	}
	if site.Server.Processes != 1 {
		fmt.Fprintf(stderr, "wasmhost: processes = %d: prefork workers are not available in this version; use processes = 1, or run several copies with --listen behind a balancer\n",
			site.Server.Processes)
		return exitUsage
	}

	log := hclog.New(&hclog.LoggerOptions{
		Name:       "wasmhost",
		Level:      level,
		JSONFormat: *logFormat == "json",
		Output:     stderr,
	})
	return serve(site, log, stderr)
}

func serve(site *config.Site, log hclog.Logger, stderr io.Writer) int {
	ctx := context.Background()
	cacheDir := ""
	if site.Server.CompilationCache {
		var err error
		if cacheDir, err = loader.DefaultCacheDir(); err != nil {
			log.Warn("no compilation cache: no user cache folder", "error", err)
		}
	}
	l, err := loader.New(loader.Options{CacheDir: cacheDir, Logger: log.Named("loader")})
	if err != nil {
		log.Error("loader", "error", err)
		return exitFailure
	}
	defer l.Close(ctx)

	srv, err := host.New(ctx, host.Options{Site: site, Loader: l, Logger: log, Version: version.Version})
	if err != nil {
		fmt.Fprint(stderr, pluginDiagnostics(site, err))
		return exitUsage
	}
	var listeners []net.Listener
	for _, addr := range site.Server.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Error("cannot listen", "addr", addr, "error", err)
			for _, l := range listeners {
				l.Close()
			}
			srv.Shutdown(ctx)
			return exitFailure
		}
		listeners = append(listeners, ln)
	}
	var admin *http.Server
	if site.Admin != nil {
		ln, err := net.Listen("tcp", site.Admin.Listen)
		if err != nil {
			log.Error("cannot listen for admin", "addr", site.Admin.Listen, "error", err)
			for _, l := range listeners {
				l.Close()
			}
			srv.Shutdown(ctx)
			return exitFailure
		}
		admin = &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		go admin.Serve(ln)
		log.Info("admin listening", "addr", ln.Addr().String(), "status", "http://"+ln.Addr().String()+"/status")
		defer admin.Close()
	}
	scheme := "http"
	if site.Server.TLS != nil {
		scheme = "https"
	}
	for _, ln := range listeners {
		log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String()+"/")
	}
	names := make([]string, 0, len(site.Plugins))
	for _, p := range site.Plugins {
		names = append(names, p.Name+"="+p.Mount)
	}
	log.Info("serving", "site", site.File, "plugins", strings.Join(names, " "), "version", version.Version)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(listeners) }()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-served:
			if err != nil {
				log.Error("server failed", "error", err)
				srv.Shutdown(ctx)
				return exitFailure
			}
			return exitOK
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if site.Server.TLS != nil {
					if err := srv.ReloadTLS(); err != nil {
						log.Error("SIGHUP: TLS certificate not reloaded; the old one stays in use", "error", err)
					} else {
						log.Info("SIGHUP: TLS certificate reloaded")
					}
				}
				log.Warn("SIGHUP: reloading site.hcl and plugins is not available in this version; restart the process to apply them")
				continue
			}
			log.Info("stopping: finishing requests in flight", "signal", sig.String(), "timeout", site.Server.ShutdownTimeout)
			sctx, cancel := context.WithTimeout(ctx, site.Server.ShutdownTimeout)
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil {
				log.Warn("shutdown timeout: closed connections with requests still in flight", "error", err)
			}
			<-served
			log.Info("stopped")
			return exitOK
		}
	}
}

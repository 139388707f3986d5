package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/hostconfig"
	"github.com/wasmhost/wasmhost/internal/prefork"
	"github.com/wasmhost/wasmhost/internal/version"
	"github.com/wasmhost/wasmhost/internal/worker"
	"github.com/wasmhost/wasmhost/loader"
)

// runMaster binds the listening sockets (unless inherited) and supervises
// workers (processes != 1); internal/prefork explains the model.
func runMaster(o *runOptions, site *config.Site, src []byte, socks *prefork.Sockets, log hclog.Logger, stderr io.Writer) int {
	adminAddr := ""
	if site.Admin != nil {
		adminAddr = site.Admin.Listen
	}
	if err := socks.Bind(site.Server.Listen, site.Server.ReusePort, adminAddr); err != nil {
		log.Error("cannot listen", "error", err)
		return exitFailure
	}
	if socks.From != "" {
		log.Info("using inherited listening sockets; server.listen applies at the next full restart",
			"from", socks.From, "addrs", socks.Addrs())
	}
	return prefork.RunMaster(prefork.MasterOptions{
		Site:     site,
		Source:   src,
		SiteFile: o.site,
		Reload: func() (*config.Site, []byte, error) {
			site, src, diags := o.load()
			if diags.HasErrors() {
				return nil, nil, errors.New(config.FormatDiagnostics(diags))
			}
			return site, src, nil
		},
		ProcessesFixed: o.processes >= 0,
		Args:           os.Args[1:],
		Sockets:        socks,
		Log:            log,
		Stdout:         os.Stdout,
		Stderr:         osFile(stderr, os.Stderr),
		Version:        version.Version,
		Relays: func(site *config.Site) ([]string, func(), error) {
			return host.StartRelays(site, filepath.Join(os.TempDir(), fmt.Sprintf("wasmhost-%d.relay", os.Getpid())))
		},
	})
}

// runWorker serves as worker b.ID of a master: the site is the bytes the
// master validated, with this command line's flags applied, as the
// master applied them.
func runWorker(o *runOptions, log hclog.Logger) int {
	return worker.Run(worker.Options{
		Log: log,
		Start: func(ctx context.Context, b worker.Boot) (worker.Server, *config.Site, error) {
			site, diags := config.Parse(b.Site, b.SiteFile)
			if diags.HasErrors() { // only if site.hcl's meaning depends on where it is parsed
				return nil, nil, &worker.ExitError{Code: exitUsage, Err: errors.New(config.FormatDiagnostics(diags))}
			}
			if err := o.apply(site); err != nil {
				return nil, nil, &worker.ExitError{Code: exitUsage, Err: err}
			}
			l, err := newLoader(site, b.Log)
			if err != nil {
				return nil, nil, err
			}
			srv, err := host.New(ctx, host.Options{Site: hostconfig.Site[*host.Site](site), Loader: l, Logger: b.Log, WorkerID: b.ID, Version: version.Version,
				RelayPath: os.Getenv(host.EnvRelay)})
			if err != nil {
				l.Close(ctx)
				return nil, nil, &worker.ExitError{Code: exitUsage, Err: errors.New(pluginDiagnostics(site, err))}
			}
			return &workerServer{Server: srv, loader: l}, site, nil
		},
	})
}

// workerServer closes the loader (its compilation cache) after the server.
type workerServer struct {
	*host.Server
	loader *loader.Loader
}

func (w *workerServer) Shutdown(ctx context.Context) error {
	err := w.Server.Shutdown(ctx)
	w.loader.Close(context.Background())
	return err
}

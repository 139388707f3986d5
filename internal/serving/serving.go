// Package serving is the serving path that a single wasmhost process and
// each prefork worker share: serve a site on listening sockets until told
// to stop, then retire without dropping a connection.
//
// Retiring takes three steps, in this order, because other processes may
// go on accepting on the same sockets (the workers of a master, the next
// generation of a reload, the new process of an upgrade): stop accepting,
// so the kernel hands the queued connections to the others; wait until the
// connections already accepted have had their first request dispatched
// (drain.go says why http.Server.Shutdown alone would drop some); then
// shut the server down, letting the requests in flight finish within
// shutdown_timeout.
//
// What tells a process to stop differs: a single process takes TERM and
// INT from an operator, and its upgrade's success; a worker takes TERM
// from its master, or notices its master is gone. Serve takes signals and
// a context for these, and calls the caller back at each step, for what
// only the caller knows: whom to tell it is ready or stopping.
package serving

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/config"
)

// Server is what is served: a host.Server. Shutdown must also close
// whatever the server needs closed after it.
type Server interface {
	Serve(listeners []net.Listener) error
	Shutdown(ctx context.Context) error
}

// Options configure Serve.
type Options struct {
	Server    Server
	Listeners []net.Listener // in server.listen's order
	Site      config.Server  // which listeners serve TLS, and shutdown_timeout
	Log       hclog.Logger

	// Signals are the signals this process takes, registered by the
	// caller before anything could send them. OnSignal turns one into
	// what it means: stop (a graceful stop, the signal as its reason) or
	// carry on (it did what the signal asks, e.g. a reload). Without
	// OnSignal every signal stops.
	Signals  <-chan os.Signal
	OnSignal func(os.Signal) (stop bool)

	// Ready runs once the server accepts on every listener.
	Ready func()
	// Stopping runs first when the process is told to stop, with why.
	Stopping func(reason error)
	// Stopped runs once this process accepts no more connections: from
	// then on every connection queued goes to another process.
	Stopped func()
}

// Serve serves o.Server until a signal or the end of ctx (its cause is the
// reason) stops it, then retires gracefully. It returns the exit status: 0,
// or 1 if the server failed.
func Serve(ctx context.Context, o Options) int {
	drain, lns := NewDrainer(o.Listeners, o.Site)
	served := make(chan error, 1)
	go func() { served <- o.Server.Serve(lns) }()
	if o.Ready != nil {
		o.Ready()
	}
	var reason error
	for reason == nil {
		select {
		case err := <-served:
			if err != nil {
				o.Log.Error("server failed", "error", err)
				o.Server.Shutdown(context.Background())
				return 1
			}
			return 0
		case <-ctx.Done():
			reason = context.Cause(ctx)
		case sig := <-o.Signals:
			if o.OnSignal == nil || o.OnSignal(sig) {
				reason = errors.New(sig.String())
			}
		}
	}
	if o.Stopping != nil {
		o.Stopping(reason)
	}
	// The other processes take the new connections from now on; the
	// timeout counts from here.
	sctx, cancel := context.WithTimeout(context.Background(), o.Site.ShutdownTimeout)
	defer cancel()
	drain.Stop()
	if o.Stopped != nil {
		o.Stopped()
	}
	if n := drain.Settle(); n > 0 {
		o.Log.Debug("stopped accepting; some clients connected without sending a request", "connections", n)
	}
	if err := o.Server.Shutdown(sctx); err != nil {
		o.Log.Warn("shutdown timeout: closed connections with requests still in flight", "error", err)
	}
	<-served
	return 0
}

// Announce logs the lines that say a site is up: one per listening
// address, with its URL, then the plugins it serves, with args added.
func Announce(log hclog.Logger, site *config.Site, addrs []string, version string, args ...any) {
	for i, addr := range addrs {
		scheme := "http"
		if ListenerTLS(site.Server, i) {
			scheme = "https"
		}
		log.Info("listening", "addr", addr, "url", scheme+"://"+addr+"/")
	}
	names := make([]string, 0, len(site.Plugins))
	for _, p := range site.Plugins {
		names = append(names, p.Name+"="+p.Mount)
	}
	log.Info("serving", append([]any{"site", site.File, "plugins", strings.Join(names, " "), "version", version}, args...)...)
}

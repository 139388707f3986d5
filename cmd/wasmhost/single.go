package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/prefork"
	"github.com/wasmhost/wasmhost/internal/sdnotify"
)

// single is a process that serves alone (processes = 1) while it serves:
// what its signals do, beside the serving path it shares with a worker.
type single struct {
	o       *runOptions
	srv     *host.Server
	socks   *prefork.Sockets
	log     hclog.Logger
	stderr  io.Writer
	timeout time.Duration     // shutdown_timeout, for the log
	admin   *http.Server      // nil without an admin listener
	cancel  func(cause error) // stops serving, with why
	// mu guards the rest, shared by the serving loop (signal, stopping)
	// and the goroutine that waits for an upgrade's end.
	mu      sync.Mutex
	upgrade *prefork.Upgrade // the new process started on USR2, until it fails
	handed  bool             // the new process took over
	stopped bool             // serving is over: an upgrade's end no longer matters
}

// errUpgraded is the reason to stop once the new process (USR2) serves.
var errUpgraded = errors.New("upgraded")

// bindListeners binds the site's sockets, unless inherited, and makes
// listeners of them.
func bindListeners(site *config.Site, socks *prefork.Sockets) ([]net.Listener, error) {
	adminAddr := ""
	if site.Admin != nil {
		adminAddr = site.Admin.Listen
	} else {
		socks.CloseAdmin()
	}
	if err := socks.Bind(site.Server.Listen, site.Server.ReusePort, adminAddr); err != nil {
		return nil, err
	}
	return socks.Listeners()
}

// ready tells systemd, then the old process of an upgrade, that this one
// serves: systemd first, so that it knows the new main process before
// the old one may exit.
func (p *single) ready() {
	sdnotify.Notify("READY=1", fmt.Sprintf("MAINPID=%d", os.Getpid()))
	if err := p.socks.SignalReady(); err != nil {
		p.log.Warn("cannot tell the previous process that this one is ready", "error", err)
	}
}

// signal does what sig asks of a single process, and says whether it is
// a stop.
func (p *single) signal(sig os.Signal) (stop bool) {
	switch sig {
	case syscall.SIGHUP:
		reloadInPlace(p.o, p.srv, p.log)
	case syscall.SIGUSR2:
		p.startUpgrade()
	case syscall.SIGTTIN, syscall.SIGTTOU:
		p.log.Warn("SIGTTIN/SIGTTOU ignored: processes = 1 runs no workers; set processes in site.hcl (or --processes) to run a master and workers")
	default:
		p.mu.Lock()
		if p.upgrade != nil && !p.handed {
			p.upgrade.Abort()
		}
		p.mu.Unlock()
		return true
	}
	return false
}

// startUpgrade starts a new process from the executable on disk, which
// takes over once it serves (USR2).
func (p *single) startUpgrade() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.upgrade != nil {
		p.log.Warn("SIGUSR2 ignored: an upgrade is in progress", "new_pid", p.upgrade.Pid)
		return
	}
	u, err := prefork.StartUpgrade(p.socks, os.Stdout, osFile(p.stderr, os.Stderr))
	if err != nil {
		p.log.Error("SIGUSR2: cannot start a new process; this one keeps serving", "error", err)
		return
	}
	p.upgrade = u
	p.log.Info("SIGUSR2: started a new process from the executable on disk; serving until it is ready", "new_pid", u.Pid)
	go func() {
		err := <-u.Done()
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.stopped {
			return
		}
		if err != nil {
			p.log.Error("SIGUSR2: upgrade failed; this process keeps serving", "error", err)
			p.upgrade = nil
			return
		}
		p.handed = true
		p.log.Info("SIGUSR2: the new process is serving; this one finishes its requests and exits", "new_pid", u.Pid)
		p.cancel(errUpgraded)
	}()
}

// stopping is the first step of a stop: say so, and close this process's
// descriptors of the sockets so that, once the server has closed its
// listeners too, new connections are refused rather than queued.
func (p *single) stopping(reason error) {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	if errors.Is(reason, errUpgraded) {
		if p.admin != nil {
			p.admin.Close() // the new process's admin server takes the connections from now on
		}
	} else {
		sdnotify.Notify("STOPPING=1")
	}
	p.log.Info("stopping: finishing requests in flight", "reason", reason.Error(), "timeout", p.timeout)
	p.socks.CloseHTTP()
}

package prefork

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
)

// Server is what a worker serves: a host.Server, with whatever it needs
// closed after it (the loader) closed by Shutdown.
type Server interface {
	Serve(listeners []net.Listener) error
	Shutdown(ctx context.Context) error
	Status() host.Status
	MetricsText() string
}

// Boot is what a worker is given to start from.
type Boot struct {
	ID, Generation int
	SiteFile       string // as given on the master's command line
	Site           []byte // the bytes the master validated
	Log            hclog.Logger
}

// WorkerOptions configure RunWorker.
type WorkerOptions struct {
	Log hclog.Logger
	// Start parses b.Site (applying the command line's overrides), loads
	// every plugin and returns the server and the site. A failure is a
	// boot failure: its text is what the master prints, once, and an
	// *ExitError sets the exit status (1 otherwise).
	Start func(ctx context.Context, b Boot) (Server, *config.Site, error)
}

// ExitError is an error that ends the program with Code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// IsWorker says whether this process was started by a master as a worker.
func IsWorker() bool { return os.Getenv(envWorker) != "" }

// helloTimeout bounds the wait for the master's first message; a master
// writes it right after starting the worker.
const helloTimeout = 30 * time.Second

// RunWorker runs this process as a worker: it reads its hello from the
// control channel (fd 3), loads the site, serves on the inherited
// listeners (fds 4..) and tells the master it is ready. It stops
// gracefully on SIGTERM, or when the master is gone. It returns the exit
// status.
func RunWorker(opts WorkerOptions) int {
	// Only the master takes orders. A terminal's ^C or hangup reaches the
	// whole process group; the master turns them into a SIGTERM per
	// worker, at the right moment. TTIN and TTOU, meant for the master,
	// would stop a worker that got them (their default action).
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGTTOU)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	os.Unsetenv(envWorker)

	log := opts.Log
	ctl, err := newCtlConn(os.NewFile(firstFD, "control"))
	if err != nil {
		log.Error("worker: no control channel (was this started by a wasmhost master?)", "error", err)
		return 1
	}
	ctl.c.SetReadDeadline(time.Now().Add(helloTimeout))
	m, err := ctl.recv()
	ctl.c.SetReadDeadline(time.Time{})
	if err != nil || m.Type != msgHello || m.Hello == nil {
		log.Error("worker: no hello from the master", "error", err)
		return 1
	}
	h := m.Hello
	if os.Getppid() != h.MasterPID {
		return 0 // the master died before we could be told: nothing to serve for
	}
	log = log.Named("worker." + strconv.Itoa(h.ID))
	setProcessName("wasmhost-w" + strconv.Itoa(h.ID))

	// The control loop runs during boot too: it answers queries (with
	// "booting") and notices the master's death while plugins compile.
	var srv atomic.Pointer[Server]
	masterGone := make(chan struct{})
	go func() {
		defer close(masterGone)
		for {
			m, err := ctl.recv()
			if err != nil {
				return
			}
			reply := &message{Type: msgReply, Seq: m.Seq}
			s := srv.Load()
			switch {
			case s == nil:
				reply.Error = "booting"
			case m.Type == msgStatus:
				st := (*s).Status()
				reply.Status = &st
			case m.Type == msgMetrics:
				reply.Metrics = (*s).MetricsText()
			default:
				reply.Error = "unknown request " + strconv.Quote(m.Type)
			}
			if ctl.send(reply) != nil {
				return
			}
		}
	}()

	type started struct {
		srv  Server
		site *config.Site
		err  error
	}
	bootc := make(chan started, 1)
	go func() {
		s, site, err := opts.Start(context.Background(), Boot{ID: h.ID, Generation: h.Generation, SiteFile: h.SiteFile, Site: h.Site, Log: log})
		bootc <- started{s, site, err}
	}()
	var b started
	select {
	case b = <-bootc:
	case <-term:
		return 0 // retired or stopped before it served anything: nothing to drain
	case <-masterGone:
		return 0
	}
	if b.err != nil {
		code := 1
		var ee *ExitError
		if errors.As(b.err, &ee) {
			code = ee.Code
		}
		// The master prints the error: once, however many workers fail.
		if ctl.send(&message{Type: msgFatal, Error: b.err.Error(), Code: code}) != nil {
			fmt.Fprint(os.Stderr, b.err.Error())
		}
		return code
	}

	lns, err := inheritedListeners(h.Listeners)
	if err != nil {
		ctl.send(&message{Type: msgFatal, Error: err.Error(), Code: 1})
		b.srv.Shutdown(context.Background())
		return 1
	}
	drain, lns := NewDrainer(lns, b.site.Server)
	served := make(chan error, 1)
	go func() { served <- b.srv.Serve(lns) }()
	srv.Store(&b.srv)
	if err := ctl.send(&message{Type: msgReady}); err != nil {
		log.Warn("cannot tell the master this worker is ready", "error", err)
	}
	log.Debug("serving", "pid", os.Getpid(), "generation", h.Generation)

	select {
	case err := <-served:
		if err != nil {
			log.Error("server failed", "error", err)
			b.srv.Shutdown(context.Background())
			return 1
		}
		return 0
	case <-term:
		log.Debug("stopping: finishing requests in flight", "timeout", b.site.Server.ShutdownTimeout)
	case <-masterGone:
		// Pdeathsig is the first guard; this one also covers systems
		// without it, and a master that closed the channel without dying.
		log.Warn("master is gone: finishing requests in flight, then exiting", "timeout", b.site.Server.ShutdownTimeout)
	}
	// The other workers (or the next generation, or a new master) take
	// the new connections from now on; the timeout counts from here.
	ctx, cancel := context.WithTimeout(context.Background(), b.site.Server.ShutdownTimeout)
	defer cancel()
	drain.Stop()
	// The master reports a reload done only once every old worker has
	// said this (or is gone): until then, a new connection may still
	// reach the old site.
	ctl.send(&message{Type: msgStopped})
	if n := drain.Settle(); n > 0 {
		log.Debug("stopped accepting; some clients connected without sending a request", "connections", n)
	}
	if err := b.srv.Shutdown(ctx); err != nil {
		log.Warn("shutdown timeout: closed connections with requests still in flight", "error", err)
	}
	return 0
}

// inheritedListeners makes listeners of fds 4 .. 4+n-1.
func inheritedListeners(n int) ([]net.Listener, error) {
	var lns []net.Listener
	for i := range n {
		f := os.NewFile(uintptr(firstFD+1+i), "listener")
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("inherited listener %d: %w", i, err)
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return nil, errors.New("no inherited listeners")
	}
	return lns, nil
}

// Package worker is a prefork worker process's side of the master and
// worker model (internal/prefork supervises; internal/control is the
// channel between them): Run reads its orders from the master, boots the
// site it was sent, serves it on the sockets it inherited through the
// same serving path as a single process (internal/serving), and answers
// the master's questions with the documents its own admin handler serves.
package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/control"
	"github.com/wasmhost/wasmhost/internal/serving"
)

// Server is what a worker serves: a host.Server, with whatever it needs
// closed after it (the loader) closed by Shutdown.
type Server interface {
	serving.Server
	// AdminHandler serves GET /status and GET /metrics, which the
	// worker's answers to its master are.
	AdminHandler() http.Handler
}

// Boot is what a worker is given to start from.
type Boot struct {
	ID, Generation int
	SiteFile       string // as given on the master's command line
	Site           []byte // the bytes the master validated
	Log            hclog.Logger
}

// Options configure Run.
type Options struct {
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
func IsWorker() bool { return os.Getenv(control.EnvWorker) != "" }

// helloTimeout bounds the wait for the master's first message; a master
// writes it right after starting the worker.
const helloTimeout = 30 * time.Second

// errMasterGone is the reason a worker stops when its channel ends.
var errMasterGone = errors.New("master is gone")

// worker is this process, once its master said hello.
type worker struct {
	log        hclog.Logger
	ctl        *control.Conn
	hello      *control.Hello
	srv        atomic.Pointer[Server] // set once serving
	masterGone chan struct{}
}

// Run runs this process as a worker: it reads its hello from the control
// channel, loads the site, serves on the inherited listeners and tells the
// master it is ready. It stops gracefully on SIGTERM, or when the master
// is gone. It returns the exit status.
func Run(opts Options) int {
	// Only the master takes orders. A terminal's ^C or hangup reaches the
	// whole process group; the master turns them into a SIGTERM per
	// worker, at the right moment. TTIN and TTOU, meant for the master,
	// would stop a worker that got them (their default action).
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGTTOU)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	os.Unsetenv(control.EnvWorker)

	w, code := greet(opts.Log)
	if w == nil {
		return code
	}
	// The control loop runs during boot too: it answers queries (with
	// "booting") and notices the master's death while plugins compile.
	go w.answer()

	type started struct {
		srv  Server
		site *config.Site
		err  error
	}
	bootc := make(chan started, 1)
	go func() {
		h := w.hello
		s, site, err := opts.Start(context.Background(), Boot{ID: h.ID, Generation: h.Generation, SiteFile: h.SiteFile, Site: h.Site, Log: w.log})
		bootc <- started{s, site, err}
	}()
	select {
	case b := <-bootc:
		if b.err != nil {
			return w.bootFailed(b.err)
		}
		return w.serve(b.srv, b.site, term)
	case <-term:
		return 0 // retired or stopped before it served anything: nothing to drain
	case <-w.masterGone:
		return 0
	}
}

// greet reads the master's hello. It returns nil and the exit status if
// there is nothing to serve.
func greet(log hclog.Logger) (*worker, int) {
	ctl, err := control.New(os.NewFile(control.FD, "control"))
	if err != nil {
		log.Error("worker: no control channel (was this started by a wasmhost master?)", "error", err)
		return nil, 1
	}
	ctl.SetReadDeadline(time.Now().Add(helloTimeout))
	m, err := ctl.Recv()
	ctl.SetReadDeadline(time.Time{})
	if err != nil || m.Type != control.MsgHello || m.Hello == nil {
		log.Error("worker: no hello from the master", "error", err)
		return nil, 1
	}
	h := m.Hello
	if os.Getppid() != h.MasterPID {
		return nil, 0 // the master died before we could be told: nothing to serve for
	}
	setProcessName("wasmhost-w" + strconv.Itoa(h.ID))
	return &worker{log: log.Named("worker." + strconv.Itoa(h.ID)), ctl: ctl, hello: h, masterGone: make(chan struct{})}, 0
}

// answer replies to the master's queries until the channel ends.
func (w *worker) answer() {
	defer close(w.masterGone)
	for {
		m, err := w.ctl.Recv()
		if err != nil {
			return
		}
		reply := &control.Message{Type: control.MsgReply, Seq: m.Seq}
		s := w.srv.Load()
		switch {
		case s == nil:
			reply.Error = "booting"
		case m.Type == control.MsgStatus:
			reply.Status, err = get((*s).AdminHandler(), "/status")
		case m.Type == control.MsgMetrics:
			var b []byte
			b, err = get((*s).AdminHandler(), "/metrics")
			reply.Metrics = string(b)
		default:
			reply.Error = "unknown request " + strconv.Quote(m.Type)
		}
		if err != nil {
			reply.Error = err.Error()
		}
		if w.ctl.Send(reply) != nil {
			return
		}
	}
}

// bootFailed tells the master why the site did not boot, and returns the
// exit status that failure causes.
func (w *worker) bootFailed(err error) int {
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	// The master prints the error: once, however many workers fail.
	if w.ctl.Send(&control.Message{Type: control.MsgFatal, Error: err.Error(), Code: code}) != nil {
		fmt.Fprint(os.Stderr, err.Error())
	}
	return code
}

// serve serves the booted site on the inherited listeners until SIGTERM
// or the master's end.
func (w *worker) serve(srv Server, site *config.Site, term <-chan os.Signal) int {
	lns, err := inheritedListeners(w.hello.Listeners)
	if err != nil {
		w.ctl.Send(&control.Message{Type: control.MsgFatal, Error: err.Error(), Code: 1})
		srv.Shutdown(context.Background())
		return 1
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		select {
		case <-w.masterGone:
			cancel(errMasterGone)
		case <-ctx.Done():
		}
	}()
	return serving.Serve(ctx, serving.Options{
		Server: srv, Listeners: lns, Site: site.Server, Log: w.log, Signals: term,
		Ready: func() {
			w.srv.Store(&srv)
			if err := w.ctl.Send(&control.Message{Type: control.MsgReady}); err != nil {
				w.log.Warn("cannot tell the master this worker is ready", "error", err)
			}
			w.log.Debug("serving", "pid", os.Getpid(), "generation", w.hello.Generation)
		},
		Stopping: func(reason error) {
			if errors.Is(reason, errMasterGone) {
				// Pdeathsig is the first guard; this one also covers systems
				// without it, and a master that closed the channel without dying.
				w.log.Warn("master is gone: finishing requests in flight, then exiting", "timeout", site.Server.ShutdownTimeout)
				return
			}
			w.log.Debug("stopping: finishing requests in flight", "timeout", site.Server.ShutdownTimeout)
		},
		// The master reports a reload done only once every old worker has
		// said this (or is gone): until then, a new connection may still
		// reach the old site.
		Stopped: func() { w.ctl.Send(&control.Message{Type: control.MsgStopped}) },
	})
}

// inheritedListeners makes listeners of the n descriptors from
// control.FirstListenerFD on.
func inheritedListeners(n int) ([]net.Listener, error) {
	var lns []net.Listener
	for i := range n {
		f := os.NewFile(uintptr(control.FirstListenerFD+i), "listener")
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

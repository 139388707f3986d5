package prefork

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/wasmhost/wasmhost/internal/admin"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/sdnotify"
	"github.com/wasmhost/wasmhost/internal/serving"
)

// MasterOptions configure RunMaster.
type MasterOptions struct {
	Site     *config.Site // validated, with the command line's overrides applied
	Source   []byte       // the bytes Site was parsed from, sent to every worker
	SiteFile string       // site.hcl as given on the command line
	// Reload rereads site.hcl on HUP, applying the command line's
	// overrides. An error's text is the diagnostics, one per line.
	Reload func() (*config.Site, []byte, error)
	// ProcessesFixed: --processes was given, so server.processes in a
	// reloaded site.hcl is not applied.
	ProcessesFixed bool
	Args           []string // the command line after the program name, given to workers
	Sockets        *Sockets // bound or inherited; the master owns them from now on
	Log            hclog.Logger
	Stdout, Stderr *os.File
	Version        string
	// Relays, if set, starts what joins the workers' pubsub hubs for a
	// site: the environment entries that lead workers to it, and a stop.
	Relays func(site *config.Site) (env []string, stop func(), err error)
}

// master is the supervisor. Its state belongs to one goroutine, the loop
// in RunMaster; other goroutines (process waiters, control readers, timers,
// the admin handlers) post closures to it, or read the published view.
type master struct {
	o       MasterOptions
	log     hclog.Logger
	exe     string
	spawner *spawner
	sockets *Sockets
	events  chan func()
	started time.Time

	gens   []*generation // every generation with live workers, oldest first
	cur    *generation   // serving; nil until the first one is ready
	next   *generation   // booting: the first one, or a reload's
	genSeq int
	want   int
	slots  map[int]*slot

	// switching is the generation a reload replaced, until none of its
	// workers accepts any more (checkSwitched); switchTimer kills those
	// that do not say so in time.
	switching   *generation
	switchTimer *time.Timer

	reloads       map[string]int // "ok", "failed"
	reloadPending bool
	upgrade       *Upgrade // the new master started on USR2, until it fails (kept once it took over)
	handedOver    bool     // a new master took over (USR2)
	stopping      bool
	exitCode      int

	admin    *http.Server
	view     atomic.Pointer[view]
	relayEnv []string // what Relays returned, given to every worker
}

// RunMaster supervises workers until it is told to stop, and returns the
// exit status.
func RunMaster(o MasterOptions) int {
	m := &master{
		o: o, log: o.Log, sockets: o.Sockets, started: time.Now(),
		spawner: newSpawner(), events: make(chan func(), 64),
		slots: map[int]*slot{}, reloads: map[string]int{},
		want: Processes(o.Site),
	}
	defer m.sockets.Close()
	exe, err := workerExe()
	if err != nil {
		m.log.Error("cannot find this program's executable to start workers", "error", err)
		return 1
	}
	m.exe = exe
	if len(m.sockets.http) == 0 {
		m.log.Error("no listening sockets")
		return 1
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGTTOU)
	defer signal.Stop(sigs)

	if o.Relays != nil {
		env, stop, err := o.Relays(o.Site)
		if err != nil {
			m.log.Error("cannot start the pubsub relay", "error", err)
			return 1
		}
		defer stop()
		m.relayEnv = env
	}
	m.log.Info("starting workers", "workers", m.want, "pid", os.Getpid())
	m.startGeneration(o.Site, o.Source)
	m.publish()
	for !m.finished() {
		select {
		case f := <-m.events:
			f()
		case sig := <-sigs:
			m.signal(sig.(syscall.Signal))
		}
		m.publish()
	}
	if m.admin != nil {
		m.admin.Close()
	}
	if m.handedOver {
		m.log.Info("handed over to the new master; exiting")
	} else if m.exitCode == 0 {
		m.log.Info("stopped")
	}
	return m.exitCode
}

// Processes is the number of workers a site asks for: server.processes,
// or one per CPU for 0.
func Processes(site *config.Site) int {
	if n := site.Server.Processes; n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// post runs f on the loop.
func (m *master) post(f func()) { m.events <- f }

func (m *master) finished() bool {
	return m.stopping && m.liveWorkers() == 0 && (m.upgrade == nil || m.handedOver)
}

func (m *master) signal(sig syscall.Signal) {
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT:
		if m.stopping && !m.handedOver {
			m.log.Warn("second stop signal: killing the workers now", "signal", sig.String())
			for _, g := range m.gens {
				for _, w := range g.workers {
					w.cmd.Process.Kill()
				}
			}
			return
		}
		m.stop(sig.String())
	case syscall.SIGHUP:
		m.reload()
	case syscall.SIGUSR2:
		m.startUpgrade()
	case syscall.SIGTTIN:
		if m.want >= config.MaxProcesses {
			m.log.Warn("SIGTTIN: already at the most workers", "workers", m.want)
			return
		}
		m.setWant(m.want + 1)
	case syscall.SIGTTOU:
		if m.want <= 1 {
			m.log.Warn("SIGTTOU: already down to one worker")
			return
		}
		m.setWant(m.want - 1)
	}
}

func (m *master) setWant(n int) {
	if m.stopping {
		return
	}
	m.log.Info("workers wanted", "from", m.want, "to", n)
	m.want = n
	m.reconcile() // a booting generation is brought to n once it is ready
}

// stop retires every worker: each stops accepting and finishes its
// requests in flight within shutdown_timeout. The master closes its own
// descriptors for the sockets, so that once the workers have closed
// theirs the kernel refuses connections instead of queueing them.
func (m *master) stop(why string) {
	if m.stopping {
		return
	}
	m.stopping = true
	if !m.handedOver {
		sdnotify.Notify("STOPPING=1")
		if m.exitCode == 0 {
			m.log.Info("stopping: workers finish their requests in flight", "reason", why, "timeout", m.shutdownTimeout())
		}
		if m.upgrade != nil {
			m.upgrade.Abort() // a new master not yet ready would serve on alone
		}
	}
	for _, s := range m.slots {
		s.cancelRestart()
	}
	if m.switching != nil { // a reload's switch in progress is not reported
		m.switchTimer.Stop()
		m.switching = nil
	}
	for _, g := range m.gens {
		m.retire(g)
	}
	m.next = nil
	m.dropEmptyGenerations()
	m.sockets.CloseHTTP()
}

func (m *master) shutdownTimeout() time.Duration {
	var d time.Duration
	for _, g := range m.gens {
		d = max(d, g.site.Server.ShutdownTimeout)
	}
	return d
}

// reload rereads site.hcl and boots a new generation with it. A file
// with errors changes nothing: the diagnostics go to the log and the
// running generation keeps serving.
func (m *master) reload() {
	if m.stopping || m.cur == nil {
		m.log.Warn("SIGHUP ignored: not serving yet, or stopping")
		return
	}
	if m.next != nil || m.switching != nil {
		m.log.Info("SIGHUP: a reload is in progress; reloading again once it is done")
		m.reloadPending = true
		return
	}
	site, src, err := m.o.Reload()
	if err != nil {
		m.reloads["failed"]++
		m.log.Error("SIGHUP: site.hcl has errors; the running configuration keeps serving",
			"site", m.o.SiteFile, "diagnostics", strings.TrimRight(err.Error(), "\n"))
		return
	}
	prev := m.cur.site
	if changed := startOnlyChanges(prev, site); changed != "" {
		m.log.Warn("SIGHUP: some settings apply only at the next start (a restart or USR2 keeps the listening sockets as they are)", "changed", changed)
	}
	if !m.o.ProcessesFixed && site.Server.Processes != prev.Server.Processes {
		m.want = Processes(site)
	}
	m.log.Info("SIGHUP: reloading: starting workers with the new configuration", "site", m.o.SiteFile, "workers", m.want)
	sdnotify.Notify("RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", monotonicUsec()))
	m.startGeneration(site, src)
}

// afterReload starts the reload that was asked for during the last one.
func (m *master) afterReload() {
	if m.reloadPending && m.next == nil && m.switching == nil {
		m.reloadPending = false
		m.reload()
	}
}

// startOnlyChanges names the settings whose change a reload cannot
// apply: the sockets are bound once, by the first master.
func startOnlyChanges(a, b *config.Site) string {
	var out []string
	if strings.Join(a.Server.Listen, " ") != strings.Join(b.Server.Listen, " ") {
		out = append(out, "server.listen")
	}
	if a.Server.ReusePort != b.Server.ReusePort {
		out = append(out, "server.reuse_port")
	}
	adminAddr := func(s *config.Site) string {
		if s.Admin == nil {
			return ""
		}
		return s.Admin.Listen
	}
	if adminAddr(a) != adminAddr(b) {
		out = append(out, "admin.listen")
	}
	return strings.Join(out, ", ")
}

// serving is the first generation becoming ready: the moment a single
// process would log its listening addresses, and systemd and an old
// master (USR2) are told the service is up.
func (m *master) serving() {
	// The view first: a client that reads the line below and asks
	// /status must find every worker of the generation ready.
	m.publish()
	if err := m.startAdmin(); err != nil {
		m.log.Error("admin listener failed", "error", err)
	}
	serving.Announce(m.log, m.cur.site, m.sockets.Addrs(), m.o.Version, "workers", len(m.cur.workers), "pid", os.Getpid())
	// systemd first: after an upgrade it must know the new main process
	// before the old one, told below, exits.
	sdnotify.Notify("READY=1", fmt.Sprintf("MAINPID=%d", os.Getpid()), fmt.Sprintf("STATUS=serving, %d workers", len(m.cur.workers)))
	if err := m.sockets.SignalReady(); err != nil {
		m.log.Warn("cannot tell the previous master that this one is ready", "error", err)
	}
}

func (m *master) startAdmin() error {
	if m.o.Site.Admin == nil {
		m.sockets.CloseAdmin()
		return nil
	}
	ln, err := m.sockets.AdminListener()
	if err != nil || ln == nil {
		return err
	}
	m.admin = admin.Serve(ln, m.adminHandler(), m.log)
	return nil
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1 (sd_notify(3)).
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

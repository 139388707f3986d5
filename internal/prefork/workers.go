package prefork

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/control"
	"github.com/wasmhost/wasmhost/internal/sdnotify"
)

// Restart backoff. A worker that dies after running stableAfter is
// replaced at once; one that dies sooner is replaced after a delay that
// doubles from minBackoff to maxBackoff, so a crash loop (a plugin that
// traps the process, a file that disappeared) costs little CPU and does
// not flood the log, while the other workers keep serving. Unlike
// Tornado's fork_processes, which gives up for good after 100 restarts,
// the master never gives up: the cause may be fixed while it waits.
const (
	stableAfter = 10 * time.Second
	minBackoff  = 250 * time.Millisecond
	maxBackoff  = 30 * time.Second
)

// killMargin is how long after shutdown_timeout a worker that has not
// exited is killed. The worker closes its own connections when
// shutdown_timeout passes; this is the guard against one that cannot.
const killMargin = time.Second

// stopAcceptTimeout bounds the wait, at a reload's switch, for an old
// worker to confirm that it stopped accepting. Closing its listeners
// takes a worker milliseconds; one that cannot answer within this is
// wedged (stopped, swapping, frozen), and is killed rather than left
// able to take connections for the old site once it wakes up.
const stopAcceptTimeout = 5 * time.Second

// generation is the set of workers running one version of the site. HUP
// starts a new generation beside the serving one and retires the old one
// only when the new one is ready; both accept on the same sockets
// meanwhile, so no connection finds nobody listening.
type generation struct {
	n        int
	site     *config.Site
	src      []byte
	workers  map[int]*worker // live processes, by id
	want     int             // workers it boots with
	active   bool            // every worker it booted with reported ready once
	retiring bool
}

// worker is one worker process. Fields are the loop's, except fatal,
// which the reading goroutine sets before it posts the exit.
type worker struct {
	id       int
	gen      *generation
	cmd      *exec.Cmd
	pid      int
	started  time.Time
	ctl      *control.Conn
	ready    bool
	stopping bool // sent SIGTERM; its exit is expected
	closed   bool // said it stopped accepting (after SIGTERM)
	fatal    *control.Message
	kill     *time.Timer
}

// slot is what the master remembers about a worker id across processes.
type slot struct {
	restarts int
	backoff  time.Duration
	timer    *time.Timer // a pending restart ...
	timerGen *generation // ... into this generation
}

// cancelRestart forgets a pending restart.
func (s *slot) cancelRestart() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer, s.timerGen = nil, nil
	}
}

func (m *master) slot(id int) *slot {
	s := m.slots[id]
	if s == nil {
		s = &slot{}
		m.slots[id] = s
	}
	return s
}

// spawn starts worker id of generation g: the master's executable with
// the master's arguments, the control socket as fd 3 and the listeners as
// fds 4.., and WASMHOST_WORKER=id to tell it what it is.
func (m *master) spawn(g *generation, id int) error {
	fds, err := socketpair()
	if err != nil {
		return fmt.Errorf("control socketpair: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "control"), os.NewFile(uintptr(fds[1]), "control")
	listeners, _, err := m.sockets.Files(false)
	if err != nil {
		mine.Close()
		theirs.Close()
		return err
	}
	defer closeAll(listeners)
	cmd := &exec.Cmd{
		Path: m.exe,
		// argv[0] names the worker in ps and top, as nginx does.
		Args:        append([]string{"wasmhost: worker " + strconv.Itoa(id)}, m.o.Args...),
		Env:         childEnv(true, append([]string{control.EnvWorker + "=" + strconv.Itoa(id)}, m.relayEnv...)...),
		Stdout:      m.o.Stdout,
		Stderr:      m.o.Stderr,
		ExtraFiles:  append([]*os.File{theirs}, listeners...),
		SysProcAttr: workerAttr(),
	}
	err = m.spawner.start(cmd)
	theirs.Close()
	if err != nil {
		mine.Close()
		return fmt.Errorf("start worker %d: %w", id, err)
	}
	ctl, err := control.New(mine)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	w := &worker{id: id, gen: g, cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), ctl: ctl}
	g.workers[id] = w
	m.log.Debug("worker started", "worker", id, "pid", w.pid, "generation", g.n)
	ctl.Send(&control.Message{Type: control.MsgHello, Hello: &control.Hello{
		ID: id, Generation: g.n, MasterPID: os.Getpid(),
		SiteFile: m.o.SiteFile, Site: g.src, Listeners: len(listeners),
	}})

	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			msg, err := ctl.Recv()
			if err != nil {
				ctl.Close()
				return
			}
			switch msg.Type {
			case control.MsgReply:
				ctl.Deliver(msg)
			case control.MsgReady:
				m.post(func() { m.workerReady(w) })
			case control.MsgFatal:
				w.fatal = msg // read by the loop only after readDone
			case control.MsgStopped:
				m.post(func() { m.workerClosed(w) })
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		// A dead worker's end of the socket is closed, so the reader
		// ends at once; only then is w.fatal safe for the loop to read.
		select {
		case <-readDone:
		case <-time.After(time.Second):
			ctl.Close()
			<-readDone
		}
		m.post(func() { m.workerExited(w, err) })
	}()
	return nil
}

// childEnv is this process's environment for a child, without the
// variables that describe descriptors this process was given, and for a
// worker without NOTIFY_SOCKET: only masters talk to systemd.
func childEnv(worker bool, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", control.EnvWorker, envUpgrade:
			continue
		case "NOTIFY_SOCKET":
			if worker {
				continue
			}
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// startGeneration boots a generation: worker 0 first, then the others
// once it is ready. Worker 0 compiles every plugin into the shared
// compilation cache, so the others load from it in milliseconds instead
// of each compiling the same modules at once; and a site that cannot
// boot fails in one worker, with one error message, not in N.
func (m *master) startGeneration(site *config.Site, src []byte) {
	m.genSeq++
	g := &generation{n: m.genSeq, site: site, src: src, workers: map[int]*worker{}, want: m.want}
	m.gens = append(m.gens, g)
	m.next = g
	if err := m.spawn(g, 0); err != nil {
		m.bootFailed(g, err.Error(), 1)
	}
}

func (m *master) workerReady(w *worker) {
	if w.stopping || w.gen.retiring {
		return
	}
	w.ready = true
	g := w.gen
	m.log.Debug("worker ready", "worker", w.id, "pid", w.pid, "generation", g.n, "boot", time.Since(w.started).Round(time.Millisecond))
	if g != m.next {
		return
	}
	if w.id == 0 && !g.active {
		for id := 1; id < g.want; id++ {
			if g.workers[id] == nil {
				if err := m.spawn(g, id); err != nil {
					m.bootFailed(g, err.Error(), 1)
					return
				}
			}
		}
	}
	for id := range g.want {
		if w := g.workers[id]; w == nil || !w.ready {
			return
		}
	}
	m.activate(g)
}

// workerExited handles the end of a worker process, expected or not.
func (m *master) workerExited(w *worker, err error) {
	if w.kill != nil {
		w.kill.Stop()
	}
	g := w.gen
	if g.workers[w.id] == w {
		delete(g.workers, w.id)
	}
	m.dropEmptyGenerations()
	if w.stopping || g.retiring || m.stopping {
		m.log.Debug("worker exited", "worker", w.id, "pid", w.pid, "generation", g.n, "status", exitStatus(err))
		// A worker retired by TTOU may be wanted again by a TTIN that came
		// before it was gone: its id is free only now.
		m.reconcile()
		m.checkSwitched()
		return
	}
	if g == m.next && !w.ready {
		msg, code := "worker "+strconv.Itoa(w.id)+" exited before it was ready: "+exitStatus(err), 1
		if w.fatal != nil {
			msg, code = w.fatal.Error, w.fatal.Code
		}
		m.bootFailed(g, msg, code)
		return
	}
	uptime := time.Since(w.started)
	s := m.slot(w.id)
	s.restarts++
	if uptime >= stableAfter {
		s.backoff = 0
	}
	delay := s.backoff
	s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
	args := []any{"worker", w.id, "pid", w.pid, "status", exitStatus(err), "uptime", uptime.Round(time.Millisecond), "restarts", s.restarts}
	if w.fatal != nil {
		args = append(args, "error", w.fatal.Error)
	}
	if delay > 0 {
		args = append(args, "restart_in", delay)
	}
	if err == nil {
		m.log.Warn("worker exited on its own (a SIGTERM from outside the master?); replacing it", args...)
	} else {
		m.log.Error("worker died; replacing it", args...)
	}
	m.restartAfter(g, w.id, delay)
}

// restartAfter starts worker id of g again after delay, unless by then
// it is no longer wanted.
func (m *master) restartAfter(g *generation, id int, delay time.Duration) {
	s := m.slot(id)
	restart := func() {
		s.timer, s.timerGen = nil, nil
		if m.stopping || g.retiring || g.workers[id] != nil || (g.active && id >= m.want) {
			return
		}
		if err := m.spawn(g, id); err != nil {
			m.log.Error("cannot start worker", "worker", id, "error", err)
			m.restartAfter(g, id, maxBackoff)
		}
	}
	if delay == 0 {
		restart()
		return
	}
	s.cancelRestart()
	s.timerGen = g
	s.timer = time.AfterFunc(delay, func() { m.post(restart) })
}

// bootFailed handles a generation that cannot start. The first one ends
// the master: a site that does not load will not load on the next try
// either, and looping would only hide the error. A reloaded one is
// dropped, and the serving generation goes on.
func (m *master) bootFailed(g *generation, msg string, code int) {
	if code == 0 {
		code = 1
	}
	m.next = nil
	m.retire(g)
	if m.cur == nil {
		fmt.Fprintln(m.o.Stderr, strings.TrimRight(msg, "\n"))
		m.log.Error("a worker failed to start; stopping", "generation", g.n, "exit", code)
		m.exitCode = code
		m.stop("boot failure")
		return
	}
	m.reloads["failed"]++
	m.log.Error("reload failed: the new configuration's workers cannot start; the running configuration keeps serving",
		"generation", g.n, "error", strings.TrimRight(msg, "\n"))
	sdnotify.Notify("READY=1", "STATUS=reload failed; serving the previous configuration")
	m.afterReload()
}

// activate makes a fully booted generation the serving one and retires
// the previous one, whose workers finish their requests in flight. The
// reload is reported done by checkSwitched, once none of them accepts.
func (m *master) activate(g *generation) {
	g.active = true
	m.next = nil
	prev := m.cur
	m.cur = g
	if prev == nil {
		m.serving()
		m.reconcile()
		m.afterReload()
		return
	}
	m.retire(prev)
	m.switching = prev
	m.switchTimer = time.AfterFunc(stopAcceptTimeout, func() { m.post(func() { m.killStillAccepting(prev) }) })
	m.reconcile()
	m.checkSwitched()
}

// workerClosed notes that w closed its listeners.
func (m *master) workerClosed(w *worker) {
	w.closed = true
	m.checkSwitched()
}

// checkSwitched ends a reload's switch once no worker of the previous
// generation can accept a connection: each has closed its listeners or
// exited. Only then is the reload logged and reported as done, so that
// every connection made after the line is served by the new site.
func (m *master) checkSwitched() {
	prev := m.switching
	if prev == nil {
		return
	}
	for _, w := range prev.workers {
		if !w.closed {
			return
		}
	}
	m.switching = nil
	m.switchTimer.Stop()
	if m.stopping {
		return
	}
	g := m.cur
	m.reloads["ok"]++
	m.log.Info("reloaded: new workers are serving; the previous ones finish their requests",
		"generation", g.n, "workers", len(g.workers), "site", g.site.File)
	sdnotify.Notify("READY=1", fmt.Sprintf("STATUS=serving, %d workers", len(g.workers)))
	m.afterReload()
}

// killStillAccepting kills the workers of prev that have not confirmed,
// stopAcceptTimeout after the switch, that they stopped accepting.
func (m *master) killStillAccepting(prev *generation) {
	if m.switching != prev {
		return
	}
	for _, w := range prev.workers {
		if !w.closed {
			m.log.Warn("a retired worker did not confirm in time that it stopped accepting; killing it so that it cannot serve the previous configuration",
				"worker", w.id, "pid", w.pid, "timeout", stopAcceptTimeout)
			w.cmd.Process.Kill()
		}
	}
}

// retire stops every worker of g gracefully.
func (m *master) retire(g *generation) {
	g.retiring = true
	for _, w := range g.workers {
		m.stopWorker(w)
	}
	for _, s := range m.slots {
		if s.timerGen == g {
			s.cancelRestart()
		}
	}
}

// stopWorker sends SIGTERM, and SIGKILL if the worker is still there
// shutdown_timeout (plus a margin) later.
func (m *master) stopWorker(w *worker) {
	if w.stopping {
		return
	}
	w.stopping = true
	w.cmd.Process.Signal(syscall.SIGTERM)
	proc := w.cmd.Process
	w.kill = time.AfterFunc(w.gen.site.Server.ShutdownTimeout+killMargin, func() {
		if proc.Kill() == nil {
			m.post(func() { m.log.Warn("worker did not stop in time; killed it", "worker", w.id, "pid", w.pid) })
		}
	})
}

// reconcile brings the serving generation to the wanted number of
// workers (after TTIN, TTOU, or a reload that changed processes).
func (m *master) reconcile() {
	g := m.cur
	if g == nil || m.next != nil || m.stopping {
		return
	}
	for id := range m.want {
		if g.workers[id] == nil && m.slot(id).timer == nil {
			if err := m.spawn(g, id); err != nil {
				m.log.Error("cannot start worker", "worker", id, "error", err)
			}
		}
	}
	for id, w := range g.workers {
		if id >= m.want {
			m.log.Info("retiring worker", "worker", id, "pid", w.pid)
			m.stopWorker(w)
		}
	}
	for id, s := range m.slots {
		if id >= m.want {
			s.cancelRestart()
		}
	}
}

func (m *master) dropEmptyGenerations() {
	kept := m.gens[:0]
	for _, g := range m.gens {
		if len(g.workers) > 0 || g == m.cur || g == m.next {
			kept = append(kept, g)
		}
	}
	m.gens = kept
}

func (m *master) liveWorkers() int {
	n := 0
	for _, g := range m.gens {
		n += len(g.workers)
	}
	return n
}

// exitStatus describes how a process ended: "exit status 2",
// "signal: killed".
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

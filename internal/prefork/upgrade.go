package prefork

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// upgradeTimeout bounds how long a new master may take to be ready. It
// compiles every plugin that the compilation cache lacks (about a second
// each for a standard-Go guest); past this, something is wrong, and the
// old master, still serving, gives up on it.
const upgradeTimeout = 2 * time.Minute

// Upgrade is a new wasmhost process started on USR2 from the executable
// now on disk, with the same arguments, inheriting the listening sockets
// (and the admin socket) as descriptors 4.., and a pipe as descriptor 3
// on which it writes "ready" once it serves. Until then the old process
// serves alone; after it, both accept on the same sockets while the old
// one drains, so no connection is refused and none is lost: the way
// nginx and gunicorn upgrade binaries.
//
// The new process is the old one's child but gets no parent-death
// signal: it must outlive its parent, and is reparented to init (or a
// subreaper) when the old one exits.
type Upgrade struct {
	Pid  int
	cmd  *exec.Cmd
	done chan error
}

// StartUpgrade starts the new process. Done then reports nil once it is
// serving, or why it will not.
func StartUpgrade(s *Sockets, stdout, stderr *os.File) (*Upgrade, error) {
	exe, err := os.Executable() // the path, even if the running file was replaced there
	if err != nil {
		return nil, fmt.Errorf("find the executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	files, names, err := s.Files(true)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       os.Args,
		Env:        childEnv(false, envUpgrade+"="+strings.Join(append([]string{"ready"}, names...), ",")),
		Stdout:     stdout,
		Stderr:     stderr,
		ExtraFiles: append([]*os.File{w}, files...),
	}
	err = cmd.Start()
	w.Close()
	closeAll(files)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	u := &Upgrade{Pid: cmd.Process.Pid, cmd: cmd, done: make(chan error, 1)}
	go u.wait(r)
	return u, nil
}

func (u *Upgrade) wait(r *os.File) {
	defer r.Close()
	r.SetReadDeadline(time.Now().Add(upgradeTimeout))
	line, err := bufio.NewReader(r).ReadString('\n')
	if strings.HasPrefix(line, "ready ") {
		u.done <- nil
		return // it lives on; whoever outlives us reaps it
	}
	if os.IsTimeout(err) {
		u.Abort()
		u.cmd.Wait()
		u.done <- fmt.Errorf("the new process (pid %d) was not ready within %s; stopped it", u.Pid, upgradeTimeout)
		return
	}
	werr := u.cmd.Wait()
	u.done <- fmt.Errorf("the new process (pid %d, %s) ended before it was ready (%s); its log says why", u.Pid, u.cmd.Path, exitStatus(werr))
}

// Done reports once: nil when the new process serves, else an error.
func (u *Upgrade) Done() <-chan error { return u.done }

// Abort asks a new process that is not ready yet to stop.
func (u *Upgrade) Abort() { u.cmd.Process.Signal(syscall.SIGTERM) }

// startUpgrade handles USR2 in the master.
func (m *master) startUpgrade() {
	switch {
	case m.stopping || m.cur == nil:
		m.log.Warn("SIGUSR2 ignored: not serving yet, or stopping")
		return
	case m.upgrade != nil:
		m.log.Warn("SIGUSR2 ignored: an upgrade is in progress", "new_pid", m.upgrade.Pid)
		return
	}
	u, err := StartUpgrade(m.sockets, m.o.Stdout, m.o.Stderr)
	if err != nil {
		m.log.Error("SIGUSR2: cannot start a new master; this one keeps serving", "error", err)
		return
	}
	m.upgrade = u
	m.log.Info("SIGUSR2: started a new master from the executable on disk; serving until it is ready", "new_pid", u.Pid, "executable", u.cmd.Path)
	go func() {
		err := <-u.Done()
		m.post(func() { m.upgradeDone(u, err) })
	}()
}

func (m *master) upgradeDone(u *Upgrade, err error) {
	if u != m.upgrade {
		return
	}
	if err != nil {
		m.upgrade = nil
		if !m.stopping {
			m.log.Error("SIGUSR2: upgrade failed; this master keeps serving", "error", err)
		}
		return
	}
	m.log.Info("SIGUSR2: the new master is serving; this one retires its workers and exits", "new_pid", u.Pid)
	m.handedOver = true
	if m.admin != nil {
		m.admin.Close() // the new master's admin server takes the connections from now on
		m.admin = nil
	}
	m.stop("upgraded")
}

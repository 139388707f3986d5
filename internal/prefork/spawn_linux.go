package prefork

import (
	"os/exec"
	"runtime"
	"syscall"
)

// workerExe is what a worker runs: the master's own executable, through
// /proc, even after the file on disk was replaced or deleted. A worker
// must speak its master's control protocol, and a new binary takes over
// only through USR2, never by accident when a worker is restarted.
func workerExe() (string, error) { return "/proc/self/exe", nil }

// workerAttr makes a worker receive SIGTERM when its master dies: it then
// finishes its requests in flight and exits, so there are never orphans
// serving a stale site (Tornado's fork_processes leaves them; tornado#1912).
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// spawner starts processes from one OS thread that never exits. Linux
// sends the parent-death signal when the thread that forked the child
// exits, not the process (go.dev/issue/27505), and the Go runtime is free
// to end threads; a worker forked from such a thread would be told its
// master died while it is alive.
type spawner struct{ reqs chan spawnReq }

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq)}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the process
		for r := range s.reqs {
			r.done <- r.cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	s.reqs <- spawnReq{cmd, done}
	return <-done
}

// socketpair makes a control channel. Both ends are close-on-exec from
// the start: a worker started meanwhile must not inherit another's end,
// or that end would never see end of file.
func socketpair() ([2]int, error) {
	return syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
}

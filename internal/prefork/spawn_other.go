//go:build !linux

package prefork

import (
	"os"
	"os/exec"
	"syscall"
)

// workerExe is the master's executable as it was at start. Without
// /proc/self/exe a binary replaced on disk would be started by the next
// worker restart; deployments on these systems should replace binaries
// only together with a USR2 or a restart.
func workerExe() (string, error) { return os.Executable() }

// workerAttr: there is no parent-death signal outside Linux; a worker
// relies on end of file on its control channel alone to notice that its
// master is gone.
func workerAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

type spawner struct{}

func newSpawner() *spawner { return &spawner{} }

func (s *spawner) start(cmd *exec.Cmd) error { return cmd.Start() }

// socketpair makes a control channel, close-on-exec under ForkLock since
// there is no SOCK_CLOEXEC here.
func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	return fds, err
}

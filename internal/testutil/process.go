package testutil

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Process is a wasmhost (or other) process started by a test.
type Process struct {
	Cmd  *exec.Cmd
	Addr string // the first address it logged as listening
	Logs *LockedBuffer
	done chan error
}

// LockedBuffer is a bytes.Buffer written by one goroutine and read by others.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listeningRE = regexp.MustCompile(`wasmhost: listening: addr=(\S+)`)

// startBound is how long StartWasmhost waits for the listening line: a
// guard against a server that hangs, not a timing. A cold start compiles
// every plugin of the site first (the example site's ten took 75 s on a
// loaded 2-core machine), so it is generous.
const startBound = 3 * time.Minute

// StartWasmhost runs bin with args (from the repository's root) and waits
// until it logs its listening address. The process is killed when the test
// ends, if it is still running.
func StartWasmhost(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = Root()
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	p := &Process{Cmd: cmd, Logs: &LockedBuffer{}, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.done <- cmd.Wait()
		pw.Close()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		p.Wait(10 * time.Second)
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.Logs.Write(append(sc.Bytes(), '\n'))
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case p.Addr = <-found:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("%s exited before listening (%v); log:\n%s", bin, err, p.Logs.String())
	case <-time.After(startBound):
		t.Fatalf("%s did not start listening within %v; log:\n%s", bin, startBound, p.Logs.String())
	}
	return p
}

// Wait waits up to d for the process to exit and returns its error
// (nil for exit status 0); it reports a timeout as an error too.
func (p *Process) Wait(d time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(d):
		return errTimeout
	}
}

type timeoutError struct{}

func (timeoutError) Error() string { return "process did not exit in time" }

var errTimeout error = timeoutError{}

package testutil

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Need finds a program a test drives for real (redis-server, nginx,
// python3...). When it is missing the test skips with a message, or fails
// under CI=true, where .ci/deps should have installed it.
func Need(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		for _, dir := range []string{"/usr/bin", "/usr/sbin"} {
			if _, err := os.Stat(dir + "/" + program); err == nil {
				return dir + "/" + program
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (.ci/deps installs it)", program)
		}
		t.Skipf("%s is not installed (apt-get install it, or run .ci/deps as root)", program)
	}
	return p
}

// PythonRequests returns python3 when it can import requests, the client
// that red-team and end-to-end tests drive the server with; otherwise it
// skips, or fails under CI=true.
func PythonRequests(t testing.TB) string {
	t.Helper()
	py := Need(t, "python3")
	if err := exec.Command(py, "-c", "import requests").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 requests is not installed (.ci/deps installs python3-requests)")
		}
		t.Skip("python3 requests is not installed (apt-get install python3-requests)")
	}
	return py
}

// Redis starts a redis-server on a free loopback port, without persistence,
// for the rest of the test, and returns its redis:// URL.
func Redis(t testing.TB) string {
	t.Helper()
	url, _ := RedisProcess(t)
	return url
}

// RedisProcess is Redis, with the server's process, for tests that stop
// it (SIGSTOP) to see what a hung server costs.
func RedisProcess(t testing.TB) (string, *os.Process) {
	t.Helper()
	bin := Need(t, "redis-server")
	port := FreePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = &LockedBuffer{}, &LockedBuffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s: %v\n%s", addr, err, cmd.Stdout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://" + addr + "/0", cmd.Process
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

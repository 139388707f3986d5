package prefork

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestBindReusePort(t *testing.T) {
	a := &Sockets{admin: -1}
	if err := a.Bind([]string{"127.0.0.1:0"}, true, ""); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	addr := a.Addrs()[0]
	b := &Sockets{admin: -1}
	if err := b.Bind([]string{addr}, true, ""); err != nil {
		t.Errorf("a second SO_REUSEPORT socket on %s: %v", addr, err)
	}
	b.Close()
	c := &Sockets{admin: -1}
	if err := c.Bind([]string{addr}, false, ""); err == nil {
		t.Errorf("a socket without SO_REUSEPORT could bind %s too", addr)
		c.Close()
	}
}

// TestInheritSystemd runs this test binary as a child that is handed two
// sockets as systemd does, one of them named "admin".
func TestInheritSystemd(t *testing.T) {
	if os.Getenv("PREFORK_TEST_INHERIT") == "1" {
		s, err := Inherit()
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("from=%s http=%v admin=%s env=%q\n", s.From, s.Addrs(), s.AdminAddr(), os.Getenv("LISTEN_FDS"))
		os.Exit(0)
	}
	var files []*os.File
	var addrs []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		f, _ := l.(*net.TCPListener).File()
		defer f.Close()
		files, addrs = append(files, f), append(addrs, l.Addr().String())
	}
	run := func(pid string) string {
		// sh's $$ is the pid the test binary will have after exec.
		cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=`+pid+` exec "$0" -test.run=TestInheritSystemd`, os.Args[0])
		cmd.Env = append(os.Environ(), "PREFORK_TEST_INHERIT=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=web:admin")
		cmd.ExtraFiles = files
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	want := fmt.Sprintf("from=systemd http=[%s] admin=%s env=\"\"", addrs[0], addrs[1])
	if got := run("$$"); got != want {
		t.Errorf("inherited: %s\nwant:      %s", got, want)
	}
	// Sockets meant for another process are not taken (sd_listen_fds(3)).
	if got := run("1"); got != `from= http=[] admin= env=""` {
		t.Errorf("with another LISTEN_PID: %s", got)
	}
}

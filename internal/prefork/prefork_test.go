package prefork

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/config"
)

func TestMergeMetricsDeclaresEachFamilyOnce(t *testing.T) {
	worker := func(id int) string {
		return fmt.Sprintf(`# HELP wasmhost_requests_total Requests.
# TYPE wasmhost_requests_total counter
wasmhost_requests_total{worker="%d",plugin="a",status="200"} 1
# HELP wasmhost_request_duration_seconds Duration.
# TYPE wasmhost_request_duration_seconds histogram
wasmhost_request_duration_seconds_bucket{worker="%d",plugin="a",le="+Inf"} 1
wasmhost_request_duration_seconds_sum{worker="%d",plugin="a"} 0.1
wasmhost_request_duration_seconds_count{worker="%d",plugin="a"} 1
`, id, id, id, id)
	}
	got := mergeMetrics([]string{worker(0), worker(1)})
	want := `# HELP wasmhost_requests_total Requests.
# TYPE wasmhost_requests_total counter
wasmhost_requests_total{worker="0",plugin="a",status="200"} 1
wasmhost_requests_total{worker="1",plugin="a",status="200"} 1
# HELP wasmhost_request_duration_seconds Duration.
# TYPE wasmhost_request_duration_seconds histogram
wasmhost_request_duration_seconds_bucket{worker="0",plugin="a",le="+Inf"} 1
wasmhost_request_duration_seconds_sum{worker="0",plugin="a"} 0.1
wasmhost_request_duration_seconds_count{worker="0",plugin="a"} 1
wasmhost_request_duration_seconds_bucket{worker="1",plugin="a",le="+Inf"} 1
wasmhost_request_duration_seconds_sum{worker="1",plugin="a"} 0.1
wasmhost_request_duration_seconds_count{worker="1",plugin="a"} 1
`
	if got != want {
		t.Errorf("merged:\n%s\nwant:\n%s", got, want)
	}
}

// TestDrainerServesWhatItAccepted: a process that stops accepting still
// answers the connection it accepted before, even if its request comes
// later, while the socket, shared, goes on accepting for another process.
func TestDrainerServesWhatItAccepted(t *testing.T) {
	s := &Sockets{admin: -1}
	if err := s.Bind([]string{"127.0.0.1:0"}, false, ""); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	serve := func(name string) (*http.Server, *Drainer) {
		lns, err := s.Listeners()
		if err != nil {
			t.Fatal(err)
		}
		d, lns := NewDrainer(lns, config.Server{})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })}
		go srv.Serve(lns[0])
		return srv, d
	}
	oldSrv, drain := serve("old")
	addr := s.Addrs()[0]

	c, err := net.Dial("tcp", addr) // accepted by the old server, the only one accepting
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond)
	stopped := make(chan time.Time, 1)
	go func() {
		drain.StopAccepting()
		stopped <- time.Now()
	}()
	time.Sleep(200 * time.Millisecond) // a slow client: its request comes after the stop
	sent := time.Now()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if at := <-stopped; at.Before(sent) {
		t.Errorf("StopAccepting returned %v before the accepted connection's request came", sent.Sub(at))
	}
	oldSrv.Shutdown(t.Context())
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the connection accepted before the stop was dropped: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "old" {
		t.Errorf("answer %q, want old", body)
	}

	newSrv, _ := serve("new")
	defer newSrv.Close()
	r, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("the socket does not accept after the old server left: %v", err)
	}
	body, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if string(body) != "new" {
		t.Errorf("answer %q, want new", body)
	}
}

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

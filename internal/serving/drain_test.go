package serving

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/config"
)

// TestDrainerServesWhatItAccepted: a process that stops accepting still
// answers the connection it accepted before, even if its request comes
// later, while the socket, shared, goes on accepting for another process.
func TestDrainerServesWhatItAccepted(t *testing.T) {
	// The socket, as a master holds it; each server gets a descriptor of
	// its own for it, as a worker does.
	sock, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	serve := func(name string) (*http.Server, *Drainer) {
		f, err := sock.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		d, lns := NewDrainer([]net.Listener{ln}, config.Server{})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })}
		go srv.Serve(lns[0])
		return srv, d
	}
	oldSrv, drain := serve("old")
	addr := sock.Addr().String()

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

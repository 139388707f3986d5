package host_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A chunked body that passes max_body_size while the guest is already
// answering: the spool's filler meets the limit on its goroutine while the
// handler's goroutine writes the response headers. The filler must not
// touch the response (http.MaxBytesReader used to set Connection: close
// on it from there: a data race on the header map, fatal as a concurrent
// map write). make test runs it under -race, with the rest of host.
func TestBodyPastLimitWhileAnswering(t *testing.T) {
	s := startSite(t, `
server { max_body_size = "64KB" }
plugin "bigbody" {
  path            = "{{bigbody}}"
  mount           = "/"
  body_read_ahead = 0
}
`)
	piece := bytes.Repeat([]byte("b"), 8<<10)
	for i := 0; i < 3; i++ {
		pr, pw := io.Pipe()
		go func() {
			// Sent at once, so the limit falls while the answer (8 MiB)
			// streams.
			for j := 0; j < 32; j++ {
				if _, err := pw.Write(piece); err != nil {
					return
				}
			}
			pw.Close()
		}()
		resp, err := http.Post(s.base+"/?mb=8", "application/octet-stream", io.NopCloser(pr))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		pr.CloseWithError(io.ErrClosedPipe)
	}
	// The server is still whole and answers.
	resp, err := http.Get(s.base + "/?mb=0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the bodies past the limit: status %d, want 200", resp.StatusCode)
	}
}

// A body below min_body_rate is cut with 408, during the read-ahead and
// while it streams into the guest; the rate timer, the filler and the
// handler meet on the spool (run under -race too).
func TestSlowBodyIsCut(t *testing.T) {
	s := startSite(t, `
plugin "echo" {
  path                = "{{echo}}"
  mount               = "/"
  instances           = 1
  timeout             = "30s"
  body_read_ahead     = "1KB"
  min_body_rate       = "10KB/s"
  min_body_rate_grace = "200ms"
}
`)
	for _, c := range []struct {
		name          string
		declared, off int
	}{
		{"within the read-ahead", 512, 10},
		{"streaming", 64 << 10, 2 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", c.declared, strings.Repeat("s", c.off))
			start := time.Now()
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer to a stalled body: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
				t.Errorf("status %d (close %v) after %v, want 408 and the connection closed", resp.StatusCode, resp.Close, time.Since(start))
			}
		})
	}
	// The one instance is free again.
	resp, err := http.Post(s.base+"/", "text/plain", strings.NewReader("after"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "after" {
		t.Errorf("after the cut bodies: %d %q, want 200 and the body echoed", resp.StatusCode, b)
	}
}

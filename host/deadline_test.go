package host_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStreamOutlastsThePreviousRequestsDeadline: on a keep-alive
// connection, the second response may still be streaming when the first
// request's write deadline passes (the plugin's timeout, which the
// connection keeps armed lazily, internal/lazyconn). The stream must go on
// to its own deadline, whole.
func TestStreamOutlastsThePreviousRequestsDeadline(t *testing.T) {
	s := startSite(t, `
plugin "stream" {
  path    = "{{stream}}"
  mount   = "/"
  timeout = "3s"
}`)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func(target string) (string, error) {
		if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", target); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return string(b), fmt.Errorf("status %d", resp.StatusCode)
		}
		return string(b), err
	}
	if _, err := get("/?n=1&delay=0"); err != nil {
		t.Fatal(err)
	}
	firstDeadline := time.Now().Add(3 * time.Second)
	time.Sleep(1500 * time.Millisecond)
	// 8 lines 300 ms apart: about 2.4 s, across the first deadline.
	body, err := get("/?n=8&delay=300")
	if err != nil || !strings.Contains(body, "chunk 8") {
		t.Fatalf("the second response: %v, body %q", err, body)
	}
	if time.Now().Before(firstDeadline) {
		t.Fatalf("the stream ended before the first request's deadline; the test proves nothing on a machine this fast")
	}
}

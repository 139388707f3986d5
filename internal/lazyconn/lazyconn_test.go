package lazyconn

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// connPair returns a server-side connection as the server gets it and the
// client's end of it.
func connPair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	lc := New(c.(*net.TCPConn))
	t.Cleanup(func() { lc.Close(); client.Close() })
	return lc, client
}

// expectTimeout checks that err is a deadline error that came no earlier
// than the deadline asked for, and not long after it.
func expectTimeout(t *testing.T, what string, err error, want time.Time) {
	t.Helper()
	now := time.Now()
	switch {
	case !isTimeout(err):
		t.Fatalf("%s: %v, want a deadline error", what, err)
	case now.Before(want):
		t.Errorf("%s ended %v before its deadline", what, want.Sub(now))
	case now.Sub(want) > 5*time.Second:
		t.Errorf("%s ended %v after its deadline", what, now.Sub(want))
	}
}

func TestLaterReadDeadlineWaitsUntilItsTime(t *testing.T) {
	c, _ := connPair(t)
	early := time.Now().Add(50 * time.Millisecond)
	later := time.Now().Add(400 * time.Millisecond)
	c.SetReadDeadline(early)
	c.SetReadDeadline(later)
	if !c.rd.armed.Equal(early) {
		t.Fatalf("the socket was re-armed for a later deadline (armed %v)", c.rd.armed)
	}
	_, err := c.Read(make([]byte, 1))
	expectTimeout(t, "read", err, later)
}

func TestEarlierReadDeadlineArmsAtOnce(t *testing.T) {
	c, _ := connPair(t)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	soon := time.Now().Add(100 * time.Millisecond)
	c.SetReadDeadline(soon)
	_, err := c.Read(make([]byte, 1))
	expectTimeout(t, "read", err, soon)
}

func TestClearedReadDeadlineLetsReadWait(t *testing.T) {
	c, client := connPair(t)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	c.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		client.Write([]byte("x"))
	}()
	buf := make([]byte, 1)
	if n, err := c.Read(buf); n != 1 || err != nil {
		t.Fatalf("read after the cleared deadline: %d, %v", n, err)
	}
}

// net/http stops a background read by setting a deadline in the past from
// another goroutine (connReader.abortPendingRead).
func TestPastDeadlineAbortsAPendingRead(t *testing.T) {
	c, _ := connPair(t)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("aborted read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a deadline in the past did not end the pending read")
	}
	c.SetReadDeadline(time.Time{})
}

// fillable makes writes block soon: small buffers on both ends.
func fillable(t *testing.T, c *Conn, client net.Conn) {
	t.Helper()
	if err := c.SetWriteBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	if err := client.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
}

// readAllLater reads everything the client receives, starting after wait.
func readAllLater(client net.Conn, wait time.Duration) chan []byte {
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(wait)
		b, _ := io.ReadAll(client)
		got <- b
	}()
	return got
}

// A write that an earlier, lazily kept deadline cuts short resumes where it
// stopped: nothing is lost or sent twice.
func TestWriteResumesPastAnEarlierArmedDeadline(t *testing.T) {
	c, client := connPair(t)
	fillable(t, c, client)
	data := make([]byte, 2<<20)
	rand.Read(data)
	c.SetWriteDeadline(time.Now().Add(30 * time.Millisecond))
	c.SetWriteDeadline(time.Now().Add(time.Minute))
	got := readAllLater(client, 300*time.Millisecond)
	n, err := c.Write(data)
	if n != len(data) || err != nil {
		t.Fatalf("write: %d of %d bytes, %v", n, len(data), err)
	}
	c.CloseWrite()
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("the client got %d bytes that differ from the %d written", len(b), len(data))
	}
}

func TestWriteDeadlineStillEndsAWriteNobodyReads(t *testing.T) {
	c, client := connPair(t)
	fillable(t, c, client)
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	later := time.Now().Add(400 * time.Millisecond)
	c.SetWriteDeadline(later)
	n, err := c.Write(make([]byte, 64<<20))
	expectTimeout(t, "write", err, later)
	if n >= 64<<20 {
		t.Fatalf("wrote %d bytes to a client that reads nothing", n)
	}
}

// sendfile cannot be resumed after a timeout, so ReadFrom runs under the
// exact deadline.
func TestReadFromRunsUnderTheExactDeadline(t *testing.T) {
	c, client := connPair(t)
	fillable(t, c, client)
	data := make([]byte, 2<<20)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c.SetWriteDeadline(time.Now().Add(30 * time.Millisecond))
	c.SetWriteDeadline(time.Now().Add(time.Minute))
	got := readAllLater(client, 300*time.Millisecond)
	n, err := c.ReadFrom(f)
	if n != int64(len(data)) || err != nil {
		t.Fatalf("ReadFrom: %d of %d bytes, %v", n, len(data), err)
	}
	c.CloseWrite()
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("the client got %d bytes that differ from the %d sent", len(b), len(data))
	}
}

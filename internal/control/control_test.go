package control

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func pair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(os.NewFile(uintptr(fds[0]), "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(os.NewFile(uintptr(fds[1]), "b"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// A call gets the reply with its own seq, whatever order replies come in,
// and a reply's error as an error.
func TestCallsGetTheirReplies(t *testing.T) {
	master, worker := pair(t)
	go func() { // the master's reader
		for {
			m, err := master.Recv()
			if err != nil {
				return
			}
			master.Deliver(m)
		}
	}()
	go func() { // the worker: answers two requests, the second first
		m1, _ := worker.Recv()
		m2, _ := worker.Recv()
		worker.Send(&Message{Type: MsgReply, Seq: m2.Seq, Metrics: m2.Type})
		worker.Send(&Message{Type: MsgReply, Seq: m1.Seq, Error: "booting"})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := master.Call(ctx, MsgStatus)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // the status request goes first
	m, err := master.Call(ctx, MsgMetrics)
	if err != nil || m.Metrics != MsgMetrics {
		t.Errorf("metrics call: %+v, %v", m, err)
	}
	if err := <-errc; err == nil || err.Error() != "booting" {
		t.Errorf("status call: %v, want the reply's error", err)
	}
}

func TestCloseEndsCalls(t *testing.T) {
	master, _ := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := master.Call(context.Background(), MsgStatus)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	master.Close()
	if err := <-errc; err == nil {
		t.Error("a call in progress went on after Close")
	}
	if _, err := master.Call(context.Background(), MsgStatus); !errors.Is(err, ErrClosed) {
		t.Errorf("call on a closed channel: %v, want ErrClosed", err)
	}
}

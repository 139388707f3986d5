package serving

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/config"
)

// httpServer is a Server of one http.Server per listener.
type httpServer struct {
	mu   sync.Mutex
	srvs []*http.Server
	fail error
}

func (s *httpServer) Serve(lns []net.Listener) error {
	if s.fail != nil {
		return s.fail
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
		s.mu.Lock()
		s.srvs = append(s.srvs, srv)
		s.mu.Unlock()
		go func() { errc <- srv.Serve(ln) }()
	}
	for range lns {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

func (s *httpServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.srvs {
		srv.Shutdown(ctx)
	}
	return nil
}

// events records the hooks in the order they run.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.list = append(e.list, s)
	e.mu.Unlock()
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

func start(t *testing.T, srv Server, ctx context.Context, sigs chan os.Signal, ev *events) (addr string, code chan int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	code = make(chan int, 1)
	ready := make(chan struct{})
	go func() {
		code <- Serve(ctx, Options{
			Server: srv, Listeners: []net.Listener{ln}, Site: config.Server{ShutdownTimeout: 5 * time.Second},
			Log: hclog.NewNullLogger(), Signals: sigs,
			OnSignal: func(s os.Signal) bool { ev.add("signal " + s.String()); return s != syscall.SIGHUP },
			Ready:    func() { ev.add("ready"); close(ready) },
			Stopping: func(reason error) { ev.add("stopping: " + reason.Error()) },
			Stopped:  func() { ev.add("stopped") },
		})
	}()
	<-ready
	return ln.Addr().String(), code
}

// A signal that OnSignal does not call a stop changes nothing; one it
// does stops gracefully, the hooks in order.
func TestServeStopsOnASignal(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	ev := &events{}
	addr, code := start(t, &httpServer{}, context.Background(), sigs, ev)
	sigs <- syscall.SIGHUP
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("after a signal that is not a stop: %v", err)
	}
	resp.Body.Close()
	sigs <- syscall.SIGTERM
	if c := <-code; c != 0 {
		t.Errorf("exit status %d, want 0", c)
	}
	want := []string{"ready", "signal hangup", "signal terminated", "stopping: terminated", "stopped"}
	if got := ev.get(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

// The end of the context stops too, its cause the reason.
func TestServeStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ev := &events{}
	_, code := start(t, &httpServer{}, ctx, nil, ev)
	cancel(errors.New("master is gone"))
	if c := <-code; c != 0 {
		t.Errorf("exit status %d, want 0", c)
	}
	want := []string{"ready", "stopping: master is gone", "stopped"}
	if got := ev.get(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestServeReportsAFailedServer(t *testing.T) {
	ev := &events{}
	_, code := start(t, &httpServer{fail: errors.New("broken")}, context.Background(), nil, ev)
	if c := <-code; c != 1 {
		t.Errorf("exit status %d, want 1", c)
	}
	if got := ev.get(); !slices.Equal(got, []string{"ready"}) {
		t.Errorf("events %q: a failure is not a stop", got)
	}
}

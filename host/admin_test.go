package host_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/internal/status"
)

func TestAdminStatusAndMetrics(t *testing.T) {
	s := startSite(t, exampleSite)
	for i := 0; i < 3; i++ {
		s.get(t, "/")
	}
	s.get(t, "/env/x")
	admin := httptestServer(t, s.srv.AdminHandler())

	resp, err := http.Get(admin + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st status.Status
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Workers) != 1 || st.Workers[0].PID != os.Getpid() || st.Workers[0].Requests != 4 {
		t.Errorf("status workers = %+v, want one worker, this pid, 4 requests", st.Workers)
	}
	versions := map[string]string{}
	for _, p := range st.Plugins {
		versions[p.Name] = p.Version
	}
	if len(versions) != 4 || versions["hello"] != s.srv.Plugin("hello").Version {
		t.Errorf("status plugins = %+v", st.Plugins)
	}

	resp, err = http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wasmhost_requests_total{worker="0",plugin="hello",status="200"} 3`,
		`wasmhost_requests_total{worker="0",plugin="environ",status="200"} 1`,
		`wasmhost_request_duration_seconds_count{worker="0",plugin="hello"} 3`,
		`wasmhost_instances{worker="0",plugin="hello",state="idle"} 1`,
		`wasmhost_instances{worker="0",plugin="hello",state="busy"} 0`,
		`wasmhost_guest_traps_total{worker="0",plugin="hello"} 0`,
		`wasmhost_requests_in_flight{worker="0"} 0`,
		"# TYPE wasmhost_request_duration_seconds histogram",
	} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", b)
	}
}

func httptestServer(t *testing.T, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

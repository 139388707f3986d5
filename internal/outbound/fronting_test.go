package outbound

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFronting tries to reach, through an allowed destination, something
// the URL does not name: each request must be refused before it is sent,
// with an error naming the destination (and the Host, for a Host).
func TestFronting(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	hostport := strings.TrimPrefix(up.URL, "http://")
	port := hostport[strings.LastIndexByte(hostport, ':')+1:]
	portN, _ := strconv.Atoi(port)
	c, err := NewClient(rules(t, up.URL, "http://[::1]:"+port), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		name, method, url, host, header string
		want                            []string
	}{
		{"Host of another site", "GET", up.URL, "admin.internal", "", []string{"admin.internal", hostport, "not allowed"}},
		{"Host of another port", "GET", up.URL, "127.0.0.1:1", "", []string{`"127.0.0.1:1"`}},
		{"Host without the port", "GET", up.URL, "127.0.0.1", "", []string{`"127.0.0.1"`}},
		{"Host with a trailing dot", "GET", up.URL, hostport + ".", "", []string{"Host"}},
		{"Host entry in the header", "GET", up.URL, "", "admin.internal", []string{"admin.internal"}},
		{"CONNECT", "CONNECT", up.URL, "", "", []string{"CONNECT"}},
		{"credentials", "GET", "http://admin.internal@" + hostport + "/", "", "", []string{"credentials"}},
		{"opaque URL", "GET", "http:%2F%2F" + hostport + "/", "", "", []string{"no host"}},
		{"IPv6 zone", "GET", "http://[::1%25lo]:" + port + "/", "", "", []string{"zone"}},
		{"trailing dot", "GET", "http://localhost.:" + port + "/", "", "", []string{"trailing dot"}},
		{"port out of range", "GET", "http://127.0.0.1:" + port + "0000/", "", "", []string{"port"}},
		{"port wrapping to the allowed one", "GET", "http://127.0.0.1:" + strconv.Itoa(65536+portN) + "/", "", "", []string{"port"}},
	} {
		req, err := http.NewRequest(a.method, a.url, nil)
		if err != nil {
			// Go's own parser refuses it: nothing can be sent.
			t.Logf("%s: %v (refused by url.Parse)", a.name, err)
			continue
		}
		req.Host = a.host
		if a.header != "" {
			req.Header["Host"] = []string{a.header}
		}
		_, _, err = c.RoundTrip(req)
		var denied *DeniedError
		if !errors.As(err, &denied) {
			t.Errorf("%s: %v, want refused", a.name, err)
			continue
		}
		for _, w := range a.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", a.name, err, w)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the upstream received %d of the refused requests", n)
	}
	// What stays allowed: the URL's own host, in any spelling of it.
	for _, h := range []string{"", hostport, strings.ToUpper(hostport), "[::ffff:127.0.0.1]:" + port} {
		req, _ := http.NewRequest("GET", up.URL, nil)
		req.Host = h
		resp, release, err := c.RoundTrip(req)
		if err != nil {
			t.Errorf("Host %q: %v, want allowed", h, err)
			continue
		}
		resp.Body.Close()
		release()
	}
}

// TestSNIIsTheURLHost: over TLS the server name sent is the URL's host,
// the one the rules checked, whatever the guest puts in its request; the
// guest has no way to set the TLS configuration.
func TestSNIIsTheURLHost(t *testing.T) {
	var mu sync.Mutex
	var sni, host []string
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		host = append(host, r.Host)
		mu.Unlock()
	}))
	up.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		sni = append(sni, h.ServerName)
		mu.Unlock()
		return nil, nil
	}}
	up.StartTLS()
	defer up.Close()
	port := up.URL[strings.LastIndexByte(up.URL, ':')+1:]
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600)
	// httptest's certificate names example.com, and localhost reaches it.
	c, err := NewClient(rules(t, "https://localhost:"+port), ca)
	if err != nil {
		t.Fatal(err)
	}
	c.transport.TLSClientConfig.InsecureSkipVerify = true // the name, not the chain, is under test
	for _, h := range []string{"", "admin.internal"} {
		req, _ := http.NewRequest("GET", "https://localhost:"+port+"/", nil)
		req.Host = h
		resp, release, err := c.RoundTrip(req)
		if h != "" {
			if err == nil {
				resp.Body.Close()
				release()
				t.Errorf("Host %q over TLS: sent", h)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		release()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sni) != 1 || sni[0] != "localhost" || len(host) != 1 || host[0] != "localhost:"+port {
		t.Errorf("server names %q, Hosts %q; want one request, to localhost", sni, host)
	}
}

// TestMetricLabelsAreRules: a wildcard entry matches names without end; a
// request is observed under the entry it matched, not the name.
func TestMetricLabelsAreRules(t *testing.T) {
	c, err := NewClient(rules(t, "http://*.example.test:8080", "https://api.example.test"), "")
	if err != nil {
		t.Fatal(err)
	}
	c.Resolver = failingResolver{}
	labels := map[string]int{}
	c.Observe = func(allowed string, status int, _ time.Duration) { labels[allowed]++ }
	for i := 0; i < 50; i++ {
		req, _ := http.NewRequest("GET", "http://h"+strconv.Itoa(i)+".example.test:8080/", nil)
		c.RoundTrip(req)
	}
	req, _ := http.NewRequest("GET", "https://API.example.test/", nil)
	c.RoundTrip(req)
	if len(labels) != 2 || labels["http://*.example.test:8080"] != 50 || labels["https://api.example.test:443"] != 1 {
		t.Errorf("observed under %v, want the two entries", labels)
	}
}

type failingResolver struct{}

func (failingResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return nil, errors.New("no such host (test resolver)")
}

// TestDeniedCostsNothing: a plugin without allowed_hosts has no transport
// and no copy of the system's certificates, and a refusal allocates only
// its error.
func TestDeniedCostsNothing(t *testing.T) {
	c, err := NewClient(nil, "")
	if err != nil || c.transport != nil {
		t.Fatalf("NewClient(nil) = %v, transport %v; want no transport", err, c.transport)
	}
	req, _ := http.NewRequest("GET", "https://api.example.com/", nil)
	for _, cl := range []*Client{c, DenyAll} {
		if allocs := testing.AllocsPerRun(100, func() { cl.Check(req) }); allocs > 10 {
			t.Errorf("a refusal allocates %v times, want a handful", allocs)
		}
	}
	if allocs := testing.AllocsPerRun(20, func() { NewClient(nil, "") }); allocs > 2 {
		t.Errorf("a client without rules allocates %v times, want a handful (no transport, no certificate pool)", allocs)
	}
}

// TestCloseAfterReload: once Close is called (the plugin was reloaded), an
// idle connection is closed at once, and one still in use as soon as its
// request ends, not after the 90 s idle timeout. (net/http does the
// second by itself until the transport's next request; the client does it
// for every request after Close.)
func TestCloseAfterReload(t *testing.T) {
	var open atomic.Int32
	proceed := make(chan struct{})
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-proceed
		}
		w.Write([]byte("ok"))
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	up.Start()
	defer up.Close()
	c, _ := NewClient(rules(t, up.URL), "")
	done := make(chan error)
	go func() { _, err := get(t, c, up.URL+"/slow"); done <- err }()
	waitFor(t, func() bool { return open.Load() == 1 }, "the slow request's connection")
	if _, err := get(t, c, up.URL+"/"); err != nil { // a second connection, left idle
		t.Fatal(err)
	}
	waitFor(t, func() bool { return open.Load() == 2 }, "two connections open")
	c.Close()
	waitFor(t, func() bool { return open.Load() == 1 }, "the idle connection closed at Close")
	close(proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return open.Load() == 0 }, "the busy connection closed when its request ended")
	// A request that began before the reload may make another after it:
	// its connection is closed when it ends too.
	if _, err := get(t, c, up.URL+"/"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return open.Load() == 0 }, "a connection made after Close closed when its request ended")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Errorf("timed out waiting for %s", what)
}

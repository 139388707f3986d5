package outbound

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRule(t *testing.T) {
	good := map[string]string{
		"https://api.example.com":   "https://api.example.com:443",
		"http://127.0.0.1:9000":     "http://127.0.0.1:9000",
		"https://*.Example.org/":    "https://*.example.org:443",
		"http://[::1]:8080":         "http://[::1]:8080",
		"http://localhost:3000":     "http://localhost:3000",
		"HTTP://host_name.internal": "http://host_name.internal:80",
	}
	for in, want := range good {
		r, err := ParseRule(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseRule(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	for _, bad := range []string{"api.example.com", "ftp://x.org", "https://x.org/path", "https://u@x.org",
		"https://x.org:0", "https://x.org:99999", "https://*.1.2.3.4", "https://", "https://exa mple.org", "https://-x.org"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) accepted", bad)
		}
	}
}

func rules(t *testing.T, entries ...string) Rules {
	var rs Rules
	for _, e := range entries {
		r, err := ParseRule(e)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestAllows(t *testing.T) {
	rs := rules(t, "https://api.example.com", "https://*.example.org", "http://127.0.0.1:9000")
	cases := []struct {
		scheme, host string
		port         int
		want         bool
	}{
		{"https", "api.example.com", 443, true},
		{"http", "api.example.com", 80, false},
		{"https", "api.example.com", 8443, false},
		{"https", "a.example.org", 443, true},
		{"https", "a.b.example.org", 443, true},
		{"https", "example.org", 443, false},
		{"https", "evilexample.org", 443, false},
		{"http", "127.0.0.1", 9000, true},
		{"http", "127.0.0.1", 9001, false},
	}
	for _, c := range cases {
		if got := rs.Allows(c.scheme, c.host, c.port); got != c.want {
			t.Errorf("Allows(%s://%s:%d) = %v", c.scheme, c.host, c.port, got)
		}
	}
	for addr, want := range map[string]bool{
		"127.0.0.1:9000": true, "127.0.0.1:9001": false, "10.0.0.1:443": false, "169.254.169.254:80": false,
		"[::1]:9000": false, "93.184.216.34:443": true, "0.0.0.0:9000": false, "[fe80::1]:443": false,
	} {
		ap := netip.MustParseAddrPort(addr)
		if got := rs.allowsAddr(ap.Addr(), int(ap.Port())); got != want {
			t.Errorf("allowsAddr(%s) = %v", addr, got)
		}
	}
}

// LoopbackResolver answers 127.0.0.1 for every name: a DNS answer an
// attacker controls.
type LoopbackResolver struct{}

func (LoopbackResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

func get(t *testing.T, c *Client, url string) (string, error) {
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	resp, release, err := c.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer release()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestClientRefusals(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") }))
	defer up.Close()
	port := up.URL[strings.LastIndexByte(up.URL, ':')+1:]

	c, err := NewClient(rules(t, up.URL, "http://*.example.test:"+port, "http://named.example.test:"+port), "")
	if err != nil {
		t.Fatal(err)
	}
	// Every name resolves to the upstream's loopback address: a DNS
	// answer an attacker controls.
	c.Resolver = LoopbackResolver{}
	if body, err := get(t, c, up.URL); err != nil || body != "upstream" {
		t.Fatalf("allowed upstream: %q, %v", body, err)
	}
	for _, url := range []string{
		"http://a.example.test:" + port + "/",     // wildcard resolving to loopback
		"http://named.example.test:" + port + "/", // name resolving to loopback
		"http://169.254.169.254/latest/meta-data", // not listed at all
		"http://127.0.0.1:1/",                     // listed IP, other port
	} {
		_, err := get(t, c, url)
		var denied *DeniedError
		if !errors.As(err, &denied) || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("GET %s: %v, want a not allowed error", url, err)
		}
	}
	none, _ := NewClient(nil, "")
	if _, err := get(t, none, up.URL); err == nil || !strings.Contains(err.Error(), "not allowed") || !strings.Contains(err.Error(), "127.0.0.1:"+port) {
		t.Errorf("no allowed_hosts: %v", err)
	}
}

func TestCAFile(t *testing.T) {
	if _, err := NewClient(nil, "/nonexistent/ca.pem"); err == nil {
		t.Error("missing ca_file accepted")
	}
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "private") }))
	defer up.Close()
	rs := rules(t, up.URL)

	// The system roots do not know the test server's certificate.
	plain, _ := NewClient(rs, "")
	if _, err := get(t, plain, up.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a private CA's certificate without ca_file: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600)
	trusting, err := NewClient(rs, ca)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(t, trusting, up.URL); err != nil || body != "private" {
		t.Errorf("with ca_file: %q, %v", body, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, err := NewClient(rs, bad); err == nil {
		t.Error("a ca_file without PEM certificates accepted")
	}
}

func TestClientBounds(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bigheader" {
			w.Header().Set("X-Big", strings.Repeat("x", MaxResponseHeaderBytes+1))
			return
		}
		w.(http.Flusher).Flush()
		<-release
	}))
	defer up.Close()
	defer close(release)
	c, _ := NewClient(rules(t, up.URL), "")

	if _, err := get(t, c, up.URL+"/bigheader"); err == nil {
		t.Error("a response header over the limit was accepted")
	}

	// MaxConcurrent requests in flight (their bodies open) hold every slot:
	// one more waits, and fails when its context ends.
	var releases []func()
	for i := 0; i < MaxConcurrent; i++ {
		req, _ := http.NewRequest("GET", up.URL+"/hang", nil)
		resp, rel, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		releases = append(releases, rel)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", up.URL+"/hang", nil)
	if _, _, err := c.RoundTrip(req); !errors.Is(err, ErrBusy) {
		t.Errorf("request %d: %v, want ErrBusy", MaxConcurrent+1, err)
	}
	releases[0]()
	req, _ = http.NewRequest("GET", up.URL+"/bigheader", nil)
	if _, _, err := c.RoundTrip(req); errors.Is(err, ErrBusy) {
		t.Error("a released slot was not given to the next request")
	}
}

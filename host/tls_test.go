package host_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

func TestTLSAndHTTP2(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteCert(t, dir, 1)
	s := startSite(t, `server {
  listen = ["https://127.0.0.1:0"]
  tls {
    cert = "`+dir+`/cert.pem"
    key  = "`+dir+`/key.pem"
  }
}
plugin "environ" { path = "{{environ}}" }
plugin "stream" {
  path  = "{{stream}}"
  mount = "/stream"
}`)
	base := strings.Replace(s.base, "http://", "https://", 1)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	resp, err := client.Get(base + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("negotiated %s, want HTTP/2", resp.Proto)
	}
	for _, want := range []string{"wasmhost.url_scheme: https\n", "SERVER_PROTOCOL: HTTP/2.0\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("environ over TLS lacks %q:\n%s", want, b)
		}
	}

	// A flushed response streams over HTTP/2: five DATA frames, spread in time.
	resp, err = client.Get(base + "/stream?n=5")
	if err != nil {
		t.Fatal(err)
	}
	var arrivals []time.Time
	buf := make([]byte, 4096)
	var body strings.Builder
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			arrivals = append(arrivals, time.Now())
			body.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	if body.String() != "chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n" || len(arrivals) < 5 {
		t.Errorf("h2 stream: %d reads of %q, want 5 chunks in separate reads", len(arrivals), body.String())
	} else if span := arrivals[len(arrivals)-1].Sub(arrivals[0]); span < 150*time.Millisecond {
		t.Errorf("h2 stream arrived within %v; a streamed response spreads over ~200ms", span)
	}

	// curl, as a user would check it.
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version}", base+"/").Output()
		if err != nil || string(out) != "2" {
			t.Errorf("curl --http2: version %q, %v", out, err)
		}
	} else if os.Getenv("CI") == "true" {
		t.Errorf("curl is not installed (CI installs it)")
	}

	// HUP rereads the certificate: new connections get the new one.
	testutil.WriteCert(t, dir, 2)
	if err := s.srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	conn.Close()
	if serial != 2 {
		t.Errorf("after ReloadTLS the server presents certificate %d, want 2", serial)
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("garbage"), 0o644)
	if err := s.srv.ReloadTLS(); err == nil {
		t.Errorf("reloading a broken certificate succeeded")
	}
	if _, err := client.Get(base + "/x"); err != nil {
		t.Errorf("after a failed reload the old certificate must keep serving: %v", err)
	}

	// HUP with a tls block naming other files: the new files serve.
	other := t.TempDir()
	testutil.WriteCert(t, other, 3)
	site, diags := config.Parse([]byte(`server {
  listen = ["https://127.0.0.1:0"]
  tls {
    cert = "`+other+`/cert.pem"
    key  = "`+other+`/key.pem"
  }
}
plugin "environ" { path = "`+testutil.Plugin(t, "plugins/examples/environ")+`" }`), filepath.Join(t.TempDir(), "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(config.FormatDiagnostics(diags))
	}
	if err := s.srv.Reload(context.Background(), host.SiteOf(site)); err != nil {
		t.Fatal(err)
	}
	if err := s.srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	conn, err = tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	serial = conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	conn.Close()
	if serial != 3 {
		t.Errorf("after a reload naming new cert and key files the server presents certificate %d, want 3", serial)
	}
}

func TestPlainAndTLSListeners(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteCert(t, dir, 1)
	cfgText := `server {
  listen = ["http://127.0.0.1:0", "https://127.0.0.1:0"]
  tls {
    cert = "` + dir + `/cert.pem"
    key  = "` + dir + `/key.pem"
  }
}
plugin "hello" { path = "{{hello}}" }`
	s := startSiteListeners(t, cfgText, 2)
	plain, secure := s.bases[0], strings.Replace(s.bases[1], "http://", "https://", 1)
	if resp, body := getURL(t, http.DefaultClient, plain+"/"); resp.StatusCode != 200 || body != "Hello, world\n" || resp.TLS != nil {
		t.Errorf("plain listener: %d %q tls=%v", resp.StatusCode, body, resp.TLS != nil)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	if resp, body := getURL(t, client, secure+"/"); resp.StatusCode != 200 || body != "Hello, world\n" || resp.ProtoMajor != 2 {
		t.Errorf("TLS listener: %d %q %s", resp.StatusCode, body, resp.Proto)
	}
}

func getURL(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

package host_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
)

func init() {
	plugins["cookies"] = "plugins/testplugins/cookies"
}

const cookieSecret = "s3cret-0123456789-abcdefghijkl"

// browser is an HTTP client with a cookie jar and no transparent gzip.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
}

func fetch(t *testing.T, c *http.Client, method, u string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestSignedCookies(t *testing.T) {
	s := startSite(t, `server {
  cookie_secret   = "`+cookieSecret+`"
  serve_traceback = true
}
plugin "cookies" {
  path  = "{{cookies}}"
  mount = "/"
}`)
	c := browser(t)
	if resp, body := fetch(t, c, "GET", s.base+"/set?name=user&value=alice", nil); resp.StatusCode != 200 || body != "set\n" {
		t.Fatalf("set: %d %q", resp.StatusCode, body)
	}
	if resp, body := fetch(t, c, "GET", s.base+"/get?name=user", nil); resp.StatusCode != 200 || body != "alice" {
		t.Fatalf("read back: %d %q, want alice", resp.StatusCode, body)
	}
	u, _ := url.Parse(s.base)
	signed := c.Jar.Cookies(u)[0].Value
	parts := strings.Split(signed, "|")
	for _, forged := range []string{
		strings.Join([]string{parts[0], parts[1], "Ym9i", parts[3], parts[4]}, "|"), // "bob" with alice's MAC
		strings.Join([]string{parts[0], parts[1], parts[2], parts[3], strings.Repeat("a", 64)}, "|"),
		"bob",
	} {
		resp, body := fetch(t, http.DefaultClient, "GET", s.base+"/get?name=user", nil, "Cookie", "user="+forged)
		if resp.StatusCode != 403 || !strings.Contains(body, "invalid or expired") {
			t.Errorf("forged %q: %d %q, want refused", forged, resp.StatusCode, body)
		}
	}
	// The value is bound to its cookie's name.
	if resp, _ := fetch(t, http.DefaultClient, "GET", s.base+"/get?name=admin", nil, "Cookie", "admin="+signed); resp.StatusCode != 403 {
		t.Errorf("a value moved to another cookie: %d, want refused", resp.StatusCode)
	}

	// Rotation: the old secret becomes the previous one.
	reload := func(extra string) {
		t.Helper()
		cfg, diags := config.Parse([]byte(`server {
  serve_traceback = true
`+extra+`
}
plugin "cookies" {
  path  = "`+s.srv.Plugin("cookies").Path+`"
  mount = "/"
}`), filepath.Join(t.TempDir(), "site.hcl"))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if err := s.srv.Reload(context.Background(), host.SiteOf(cfg)); err != nil {
			t.Fatal(err)
		}
	}
	reload(`cookie_secret = "another-secret-0123456789"
  cookie_secret_previous = "` + cookieSecret + `"`)
	if resp, body := fetch(t, c, "GET", s.base+"/get?name=user", nil); resp.StatusCode != 200 || body != "alice" {
		t.Errorf("after rotation, an old cookie: %d %q, want still valid", resp.StatusCode, body)
	}
	reload(`cookie_secret = "another-secret-0123456789"`)
	if resp, _ := fetch(t, c, "GET", s.base+"/get?name=user", nil); resp.StatusCode != 403 {
		t.Errorf("once the previous secret is gone, an old cookie: %d, want refused", resp.StatusCode)
	}
	reload(`cookie_secret = "another-secret-0123456789"
  cookie_max_age = "1s"`)
	fetch(t, c, "GET", s.base+"/set?name=user&value=carol", nil)
	time.Sleep(2100 * time.Millisecond) // past cookie_max_age, which is in whole seconds
	if resp, _ := fetch(t, c, "GET", s.base+"/get?name=user", nil); resp.StatusCode != 403 {
		t.Errorf("an expired cookie: %d, want refused", resp.StatusCode)
	}

	// The secret appears nowhere a user or an operator looks.
	_, page := fetch(t, http.DefaultClient, "GET", s.base+"/set?name=bad%00name&value=x", nil)
	status, _ := json.Marshal(s.srv.Status())
	for where, text := range map[string]string{"log": s.logs.String(), "/status": string(status), "error page": page} {
		for _, secret := range []string{cookieSecret, "another-secret-0123456789"} {
			if strings.Contains(text, secret) {
				t.Errorf("the cookie secret appears in the %s", where)
			}
		}
	}
}

func TestSignedCookiesNeedASecret(t *testing.T) {
	s := startSite(t, `plugin "cookies" { path = "{{cookies}}" }`)
	resp, body := s.get(t, "/set?name=user&value=alice")
	if resp.StatusCode != 500 || !strings.Contains(body, "no cookie_secret") {
		t.Errorf("SetSecureCookie without a secret: %d %q, want the SDK's error", resp.StatusCode, body)
	}
}

const xsrfSite = `plugin "cookies" {
  path       = "{{cookies}}"
  mount      = "/"
  middleware = ["xsrf"]
}`

func TestXSRF(t *testing.T) {
	s := startSite(t, xsrfSite)
	c := browser(t)
	resp, token := fetch(t, c, "GET", s.base+"/token", nil)
	u, _ := url.Parse(s.base)
	if resp.StatusCode != 200 || token == "" || len(c.Jar.Cookies(u)) != 1 || c.Jar.Cookies(u)[0].Name != "_xsrf" {
		t.Fatalf("GET /token: %d %q, cookies %v; want a token and the _xsrf cookie", resp.StatusCode, token, c.Jar.Cookies(u))
	}
	if _, again := fetch(t, c, "GET", s.base+"/token", nil); again == token || again == "" {
		t.Errorf("a second XSRFToken %q, want another masking of the token", again)
	}
	form := "comment=hi+there&_xsrf=" + url.QueryEscape(token) + "&more=" + strings.Repeat("x", 100000)
	for _, c2 := range []struct {
		name   string
		client *http.Client
		body   string
		header []string
		want   int
	}{
		{"no token", c, "comment=hi", []string{"Content-Type", "application/x-www-form-urlencoded"}, 403},
		{"wrong token", c, "_xsrf=2|00|00|1", []string{"Content-Type", "application/x-www-form-urlencoded"}, 403},
		{"no cookie", http.DefaultClient, form, []string{"Content-Type", "application/x-www-form-urlencoded"}, 403},
		{"form field", c, form, []string{"Content-Type", "application/x-www-form-urlencoded"}, 200},
		{"X-XSRFToken", c, "raw body", []string{"X-XSRFToken", token}, 200},
		{"X-CSRFToken", c, "raw body", []string{"X-CSRFToken", token}, 200},
	} {
		resp, body := fetch(t, c2.client, "POST", s.base+"/echo", strings.NewReader(c2.body), c2.header...)
		if resp.StatusCode != c2.want {
			t.Errorf("%s: %d %.80q, want %d", c2.name, resp.StatusCode, body, c2.want)
			continue
		}
		if c2.want == 200 && body != "POST "+strconv.Itoa(len(c2.body))+"\n"+c2.body {
			t.Errorf("%s: the guest got %.80q, want the body intact", c2.name, body)
		}
	}
	// Multipart, the field after a file part.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("upload", "a.bin")
	fw.Write(bytes.Repeat([]byte{0, 1, 2, 3}, 50000))
	mw.WriteField("_xsrf", token)
	mw.Close()
	sent := mp.String()
	resp, body := fetch(t, c, "POST", s.base+"/echo", strings.NewReader(sent), "Content-Type", mw.FormDataContentType())
	if resp.StatusCode != 200 || body != "POST "+strconv.Itoa(len(sent))+"\n"+sent {
		t.Errorf("multipart with the field: %d, %d bytes, want 200 and the body intact", resp.StatusCode, len(body))
	}
	if resp, _ := fetch(t, c, "GET", s.base+"/echo", nil); resp.StatusCode != 200 {
		t.Errorf("GET needs no token: %d", resp.StatusCode)
	}
}

func TestGzip(t *testing.T) {
	s := startSite(t, `
plugin "status" {
  path       = "{{status}}"
  mount      = "/"
  middleware = ["gzip"]
}
plugin "stream" {
  path       = "{{stream}}"
  mount      = "/stream"
  middleware = ["gzip"]
}`)
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	plain, plainBody := fetch(t, c, "GET", s.base+"/?kb=100", nil)
	zipped, zbody := fetch(t, c, "GET", s.base+"/?kb=100", nil, "Accept-Encoding", "gzip, deflate")
	if plain.Header.Get("Content-Encoding") != "" || len(plainBody) < 100000 {
		t.Fatalf("without Accept-Encoding: %v, %d bytes", plain.Header, len(plainBody))
	}
	if zipped.Header.Get("Content-Encoding") != "gzip" || len(zbody) > len(plainBody)/4 {
		t.Fatalf("with Accept-Encoding: gzip: Content-Encoding %q, %d bytes of %d", zipped.Header.Get("Content-Encoding"), len(zbody), len(plainBody))
	}
	zr, err := gzip.NewReader(strings.NewReader(zbody))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || string(unzipped) != plainBody {
		t.Errorf("decompressed: %d bytes, equal %v, err %v", len(unzipped), string(unzipped) == plainBody, err)
	}
	for _, r := range []*http.Response{plain, zipped} {
		if r.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Vary = %q, want Accept-Encoding", r.Header.Get("Vary"))
		}
	}
	for _, q := range []string{"?kb=100&code=206", "?kb=100&encoding=br", "?kb=100&type=image/png", "?code=200"} {
		resp, _ := fetch(t, c, "GET", s.base+"/"+q, nil, "Accept-Encoding", "gzip")
		if enc := resp.Header.Get("Content-Encoding"); enc == "gzip" {
			t.Errorf("%s: compressed, want left alone", q)
		}
	}
	if resp, _ := fetch(t, c, "GET", s.base+"/?kb=100", nil, "Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still compressed")
	}

	// A stream is compressed as it goes: each flush arrives on its own.
	req, _ := http.NewRequest("GET", s.base+"/stream?n=5&delay=150", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("stream: Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err = gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	buf := make([]byte, 4096)
	lines := 0
	for {
		n, err := zr.Read(buf)
		if n > 0 {
			times = append(times, time.Now())
			lines += bytes.Count(buf[:n], []byte("\n"))
		}
		if err != nil {
			break
		}
	}
	if lines != 5 || len(times) < 3 || times[len(times)-1].Sub(times[0]) < 300*time.Millisecond {
		t.Errorf("compressed stream: %d lines in %d reads, want 5 lines in at least 3 reads spread over time", lines, len(times))
	}
}

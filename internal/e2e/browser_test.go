// Package e2e runs wasmhost as its users do: the real binary and plugins,
// driven by real clients.
//
// The browser tests (this file) load the example site in headless Chromium:
//
//	go test ./internal/e2e -run Browser -v
//
// Without Chromium the browser test is skipped, except under CI (CI=true),
// where it fails: install it with apt-get install -y chromium, or point
// $CHROMIUM at a Chromium or Chrome binary.
package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The example stylesheet colors h1 with this; the test edits it to the other.
const (
	browserH1Color       = "rgb(0, 102, 153)"
	browserH1ColorEdited = "rgb(153, 51, 0)"
)

// browserPage is what the browser shows after a visit, read from the DOM.
type browserPage struct {
	ScriptRan  string `json:"scriptRan"`
	Status     string `json:"status"`
	H1Color    string `json:"browserH1Color"`
	Stylesheet string `json:"stylesheet"`
	Script     string `json:"script"`
	Logo       string `json:"logo"`
	LogoLoaded bool   `json:"logoLoaded"`
}

const browserReadPage = `(() => {
	const logo = document.getElementById("logo");
	return {
		scriptRan: document.body.dataset.scriptRan || "",
		status: document.getElementById("script-status").textContent,
		browserH1Color: getComputedStyle(document.querySelector("h1")).color,
		stylesheet: document.querySelector("link[rel=stylesheet]").getAttribute("href"),
		script: document.querySelector("script[src]").getAttribute("src"),
		logo: logo.getAttribute("src"),
		logoLoaded: logo.complete && logo.naturalWidth > 0,
	};
})()`

var browserVersionedURL = regexp.MustCompile(`^/static/[a-z]+/site\.(css|js)\?v=[0-9a-f]{16}$|^/static/img/logo\.svg\?v=[0-9a-f]{16}$`)

// TestBrowserStaticSite loads the example site in headless Chromium three
// times: the first visit fetches the versioned assets, the second fetches
// none of them (they are cached as immutable), and after the stylesheet is
// edited the third fetches the new stylesheet and nothing else.
func TestBrowserStaticSite(t *testing.T) {
	chromium := browserChromium(t)
	site := startBrowserSite(t) // builds first: not part of the browser's time budget

	// One browser for the whole test, so that its HTTP cache carries from
	// one visit to the next; a fresh profile, so that it starts empty.
	bctx := startBrowser(t, chromium)

	// visit navigates away and back, rather than reloading: a reload makes
	// Chromium revalidate even immutable responses, an ordinary navigation
	// (a link, the address bar) is what must not reach the server.
	visit := func(step string) browserPage {
		t.Helper()
		err := chromedp.Do(bctx,
			chromedp.Navigate("about:blank"),
			chromedp.Navigate(site.base+"/"),
		)
		if err != nil {
			t.Fatalf("%s: navigate: %v\nrequests:\n%s", step, err, site.counter)
		}
		// Navigate returns at a load event, which may still be
		// about:blank's; evaluating in a document that is being replaced
		// fails with "Cannot find context". So ask again until the page
		// itself is complete with its script run.
		loaded := `location.href === ` + strconv.Quote(site.base+"/") +
			` && document.readyState === "complete" && document.body.dataset.scriptRan === "yes"`
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](loaded))
			if err == nil && ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the page did not finish loading with its script run (%v)\nrequests:\n%s", step, err, site.counter)
			}
		}
		p, err := chromedp.Run(bctx, chromedp.Evaluate[browserPage](browserReadPage))
		if err != nil {
			t.Fatalf("%s: read the page: %v", step, err)
		}
		t.Logf("%s: %+v", step, p)
		if p.ScriptRan != "yes" || p.Status != "The script ran." {
			t.Errorf("%s: the script did not run: %+v", step, p)
		}
		if !p.LogoLoaded {
			t.Errorf("%s: the logo did not load", step)
		}
		for _, u := range []string{p.Stylesheet, p.Script, p.Logo} {
			if !browserVersionedURL.MatchString(u) {
				t.Errorf("%s: asset URL %q is not versioned (is sdk.StaticURL a host call yet?)", step, u)
			}
		}
		return p
	}

	// First visit: each asset is fetched once.
	first := visit("first visit")
	if first.H1Color != browserH1Color {
		t.Errorf("first visit: h1 color %q, want %q: the stylesheet was not applied", first.H1Color, browserH1Color)
	}
	for _, u := range []string{first.Stylesheet, first.Script, first.Logo} {
		if n := site.counter.count(u); n != 1 {
			t.Errorf("first visit: %s requested %d times, want 1", u, n)
		}
	}
	if n := site.counter.versioned(); n != 3 {
		t.Errorf("first visit: %d requests for versioned assets, want 3:\n%s", n, site.counter)
	}

	// Second visit: the page is fetched again (it is no-cache), the assets
	// come from the browser's cache without a request, not even a
	// conditional one.
	second := visit("second visit")
	if second != first {
		t.Errorf("second visit: the page changed: %+v, was %+v", second, first)
	}
	if n := site.counter.count("/"); n != 2 {
		t.Errorf("second visit: the page was requested %d times in all, want 2", n)
	}
	if n := site.counter.versioned(); n != 3 {
		t.Errorf("second visit: versioned assets reached the server again (%d requests in all, want 3):\n%s", n, site.counter)
	}

	// Edit the stylesheet: the next page links a new version, which the
	// browser fetches; the script and logo are unchanged and stay cached.
	cssFile := filepath.Join(site.static, "css", "site.css")
	css, err := os.ReadFile(cssFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(css), browserH1Color, browserH1ColorEdited, 1)
	if edited == string(css) {
		t.Fatalf("%s does not contain %q", cssFile, browserH1Color)
	}
	if err := os.WriteFile(cssFile, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	third := visit("after the edit")
	if third.Stylesheet == first.Stylesheet {
		t.Errorf("after the edit: the stylesheet URL did not change: %s", third.Stylesheet)
	}
	if third.H1Color != browserH1ColorEdited {
		t.Errorf("after the edit: h1 color %q, want %q: the new stylesheet was not applied", third.H1Color, browserH1ColorEdited)
	}
	if third.Script != first.Script || third.Logo != first.Logo {
		t.Errorf("after the edit: unchanged files got new URLs: %+v", third)
	}
	if n := site.counter.count(third.Stylesheet); n != 1 {
		t.Errorf("after the edit: the new stylesheet was requested %d times, want 1", n)
	}
	if n := site.counter.versioned(); n != 4 {
		t.Errorf("after the edit: %d requests for versioned assets in all, want 4:\n%s", n, site.counter)
	}

	// The host's own access log must tell the same story as the proxy.
	want := site.counter.versioned()
	var got int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = len(browserAccessLogRE.FindAllString(site.proc.Logs.String(), -1)); got == want {
			break
		}
	}
	if got != want {
		t.Errorf("the access log has %d versioned static requests, the proxy saw %d; log:\n%s", got, want, site.proc.Logs.String())
	}
}

// TestBrowserSiteHTTP checks over plain HTTP what the browser test relies
// on: with a plugin mounted at "/", the static files are still served by the
// host, with the caching headers the page's links deserve.
func TestBrowserSiteHTTP(t *testing.T) {
	site := startBrowserSite(t)
	base := "http://" + site.proc.Addr // straight to wasmhost
	get := func(target string, header ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("GET", base+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := get("/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<h1>") {
		t.Fatalf("GET / = %d %q", resp.StatusCode, body)
	}
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(links) != 3 {
		t.Fatalf("the page links %d static files, want 3:\n%s", len(links), body)
	}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	for _, m := range links {
		u := m[1]
		if !browserVersionedURL.MatchString(u) {
			t.Errorf("link %q is not versioned", u)
			continue
		}
		resp, _ := get(u)
		h := resp.Header
		ext := filepath.Ext(strings.SplitN(u, "?", 2)[0])
		if resp.StatusCode != 200 || h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("Content-Type") != types[ext] || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d %v", u, resp.StatusCode, h)
		}
		if resp, _ := get(u, "If-None-Match", h.Get("ETag")); resp.StatusCode != 304 {
			t.Errorf("GET %s with its ETag: %d, want 304", u, resp.StatusCode)
		}
		unversioned := strings.SplitN(u, "?", 2)[0]
		if resp, _ := get(unversioned); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d Cache-Control %q, want 200 no-cache", unversioned, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}

	// Root files and misses are the static handler's, not the plugin's page.
	if resp, body := get("/robots.txt"); resp.StatusCode != 200 || !strings.HasPrefix(body, "User-agent:") {
		t.Errorf("GET /robots.txt = %d %q", resp.StatusCode, body)
	}
	if resp, _ := get("/favicon.ico"); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/vnd.microsoft.icon" {
		t.Errorf("GET /favicon.ico = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, body := get("/static/missing.css"); resp.StatusCode != 404 || strings.Contains(body, "<h1>") {
		t.Errorf("GET /static/missing.css = %d %q", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("POST", base+"/static/css/site.css", strings.NewReader("x"))
	if resp, err := http.DefaultTransport.RoundTrip(req); err != nil || resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST a static file: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Escapes, sent byte for byte: nothing from outside the static folder
	// (the site.hcl next to it is the nearest target).
	for _, target := range []string{
		"/static/../site.hcl", "/static/%2e%2e/site.hcl", "/static/..%2fsite.hcl",
		"/static/..\\site.hcl", "/static//site.hcl", "/static/css/..%2f..%2fsite.hcl",
	} {
		status, body := browserRawRequest(t, site.proc.Addr, target)
		if status == 200 || strings.Contains(body, "plugin \"site\"") {
			t.Errorf("GET %q = %d %q", target, status, body)
		}
	}
}

// browserRawRequest sends a request-target exactly as given and returns the
// status and body.
func browserRawRequest(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

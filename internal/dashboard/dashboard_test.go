package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wasmhost/wasmhost/internal/dashboard"
)

// fakeAdmin serves the dashboard with a realistic /status (a chain of a
// built-in, a middleware and an app using a store and an upstream) and
// /metrics that move between polls: hello serves 20 requests per poll and,
// from the third poll, is swapped to a new version while services' last
// swap is refused.
func fakeAdmin(t *testing.T) *httptest.Server {
	status, err := os.ReadFile("testdata/status.json")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	var polls atomic.Int64
	mux := http.NewServeMux()
	dashboard.Register(mux)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		var doc map[string]any
		json.Unmarshal(status, &doc)
		if polls.Load() >= 3 {
			for _, p := range doc["plugins"].([]any) {
				p := p.(map[string]any)
				switch p["name"] {
				case "hello":
					p["version"], p["swaps"] = "0123456789ab", 1
				case "services":
					p["last_error"] = "plugin services: module does not export wasmhost_abi_1"
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		n := polls.Add(1)
		text := strings.Replace(string(metrics), `wasmhost_requests_total{worker="0",plugin="hello",status="200"} 2`,
			fmt.Sprintf(`wasmhost_requests_total{worker="0",plugin="hello",status="200"} %d`, 2+20*n), 1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte(text))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func chromium(t *testing.T) string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found; under CI the browser test must run")
	}
	t.Skip("no Chromium found (apt-get install -y chromium, or set CHROMIUM)")
	return ""
}

// TestDashboardInChromium: the page renders in headless Chromium with the
// site's plugins and their live figures; the DOM's text and a screenshot
// are kept in the test's artifacts.
func TestDashboardInChromium(t *testing.T) {
	srv := fakeAdmin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	// Wait for the swap, which shows from the third poll on, and the rate,
	// which needs two.
	_, err := chromedp.Run(bctx, chromedp.Navigate(srv.URL+"/"))
	if err == nil {
		_, err = chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelector("#history").innerText.includes("swapped from")`, chromedp.WithPollingTimeout(20*time.Second)))
	}
	time.Sleep(300 * time.Millisecond)
	text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
	shot, _ := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	dir := t.ArtifactDir()
	os.WriteFile(filepath.Join(dir, "dashboard.txt"), []byte(text), 0o644)
	os.WriteFile(filepath.Join(dir, "dashboard.png"), shot, 0o644)
	if err != nil {
		t.Fatalf("chromedp: %v\n%s", err, text)
	}
	t.Logf("DOM text and screenshot in %s", dir)

	for _, want := range []*regexp.Regexp{
		// plugin, version, engine, req/s (20 per 2 s poll), p50, p95, p99
		regexp.MustCompile(`hello\t0123456789ab\twazero\t\d+\.\d\t[\d.]+ ms\t[\d.]+ ms\t[\d.]+ ms`),
		regexp.MustCompile(`services\t6f554215ae87\twazero\t0\.0\t1\.75 ms\t22\.0 ms\t24\.4 ms\t0\t0\t0\t0\t0 / 1 / 16\t0\tplugin services: module does not export wasmhost_abi_1`),
		regexp.MustCompile(`errorpage\t8d69b487e11d\twazero`),
		regexp.MustCompile(`services\tgzip \(built-in\)\t4\t0\t0\.02 ms\t6\.96 ms`),
		regexp.MustCompile(`services\terrorpage\t4\t0\t0\.40 ms`),
		regexp.MustCompile(`default\tget\t1\t1\t0\t0\.17 ms`),
		regexp.MustCompile(`services\thttp://127\.0\.0\.1:34017\t200: 1\t0\.52 ms`),
		regexp.MustCompile(`hello\t0123456789ab\tswapped from 604b4fe7eb6e`),
		regexp.MustCompile(`services\t6f554215ae87\trefused: plugin services: module does not export`),
		regexp.MustCompile(`3 plugins, 1 workers, \d+ requests served`),
	} {
		if !want.MatchString(text) {
			t.Errorf("the page's text has no %q:\n%s", want, text)
		}
	}
	if m := regexp.MustCompile(`hello\t0123456789ab\twazero\t(\d+\.\d)`).FindStringSubmatch(text); m != nil && (m[1] < "5" || len(m[1]) > 4) {
		t.Errorf("hello's rate = %s req/s, want about 10", m[1])
	}
}

// TestAssetsSelfContained: the page names no asset outside the admin
// listener, and the server forbids any.
func TestAssetsSelfContained(t *testing.T) {
	srv := fakeAdmin(t)
	for _, path := range []string{"/", "/dashboard/dashboard.js", "/dashboard/dashboard.css"} {
		out, err := exec.Command("curl", "-sS", "-i", srv.URL+path).Output()
		if err != nil {
			t.Fatal(err)
		}
		s := string(out)
		if !strings.HasPrefix(s, "HTTP/1.1 200") || !strings.Contains(s, "Content-Security-Policy: default-src 'none'") {
			t.Errorf("GET %s:\n%.300s", path, s)
		}
		if regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(s) || strings.Contains(s, "http://") || strings.Contains(s, "https://") {
			t.Errorf("GET %s names an external asset", path)
		}
	}
}

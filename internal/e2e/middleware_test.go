package e2e

// The built-in middleware through clients that are not Go's: XSRF and
// signed cookies with Python's requests as a browser-like session and with
// Chromium submitting a real form, gzip with curl --compressed.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

const e2eCookieSecret = "e2e-secret-0123456789abcdef"

// startMiddlewareSite serves the cookies test plugin behind xsrf at /, and
// the status and stream plugins behind gzip, with the real binary.
func startMiddlewareSite(t *testing.T) (base string, proc *testutil.Process) {
	t.Helper()
	bin := testutil.Binary(t, "")
	site := fmt.Sprintf(`server {
  listen        = ["127.0.0.1:0"]
  cookie_secret = %q
}
plugin "cookies" {
  path       = %q
  mount      = "/"
  middleware = ["xsrf"]
}
plugin "status" {
  path       = %q
  mount      = "/status"
  middleware = ["gzip"]
}
plugin "stream" {
  path       = %q
  mount      = "/stream"
  middleware = ["gzip"]
}
`, e2eCookieSecret, testutil.Plugin(t, "plugins/testplugins/cookies"),
		testutil.Plugin(t, "plugins/testplugins/status"), testutil.Plugin(t, "plugins/examples/stream"))
	file := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(file, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartWasmhost(t, bin, "run", file, "--listen", "127.0.0.1:0")
	return "http://" + p.Addr, p
}

// needTool finds a program, or skips (fails under CI) with how to get it.
func needTool(t *testing.T, name, how string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		if len(args) == 0 || exec.Command(name, args...).Run() == nil {
			return
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (%s); under CI this test must run", name, how)
	}
	t.Skipf("%s is missing (%s); skipping", name, how)
}

const pythonSession = `
import json, sys, requests
base = sys.argv[1]
s = requests.Session()
out = {}
r = s.get(base + "/token")
token = r.text
out["token_status"] = r.status_code
out["cookie_names"] = sorted(c.name for c in s.cookies)
out["no_token"] = s.post(base + "/echo", data={"comment": "hi"}).status_code
r = s.post(base + "/echo", data={"_xsrf": token, "comment": "hi there"})
out["form"] = [r.status_code, r.text]
r = s.post(base + "/echo", data=b"raw bytes", headers={"X-XSRFToken": token})
out["header"] = [r.status_code, r.text]
r = s.post(base + "/echo", files={"upload": ("a.txt", b"file body " * 1000)}, data={"_xsrf": token})
out["multipart"] = [r.status_code, r.text.startswith("POST ") and "file body " * 1000 in r.text]
out["stranger"] = requests.post(base + "/echo", data={"_xsrf": token}).status_code
r = s.get(base + "/set", params={"name": "user", "value": "alice"}, headers={"X-XSRFToken": token})
out["set"] = r.status_code
out["get"] = s.get(base + "/get", params={"name": "user"}).text
forged = s.cookies.get("user").split("|")
forged[2] = "Ym9i"  # the value field of 3|scope|value|time|mac
out["forged"] = requests.get(base + "/get", params={"name": "user"}, cookies={"user": "|".join(forged)}).status_code
print(json.dumps(out))
`

func TestXSRFAndSignedCookiesWithPythonRequests(t *testing.T) {
	needTool(t, "python3", "apt-get install -y python3-requests", "-c", "import requests")
	base, proc := startMiddlewareSite(t)
	script := filepath.Join(t.TempDir(), "session.py")
	os.WriteFile(script, []byte(pythonSession), 0o644)
	out, err := exec.Command("python3", script, base).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python3 printed %s", out)
	}
	t.Logf("python requests session: %s", out)
	want := map[string]any{
		"token_status": 200.0,
		"cookie_names": []any{"_xsrf"},
		"no_token":     403.0,
		"header":       []any{200.0, "POST 9\nraw bytes"},
		"multipart":    []any{200.0, true},
		"stranger":     403.0,
		"set":          200.0,
		"get":          "alice",
		"forged":       403.0,
	}
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	form, _ := got["form"].([]any)
	if len(form) != 2 || fmt.Sprint(form[0]) != "200" || !echoedIntact(fmt.Sprint(form[1])) ||
		!strings.Contains(fmt.Sprint(form[1]), "comment=hi+there") || !strings.Contains(fmt.Sprint(form[1]), "_xsrf=2%7C") {
		t.Errorf("form post with the token: %v, want 200 and the urlencoded body intact", got["form"])
	}
	if strings.Contains(proc.Logs.String(), e2eCookieSecret) {
		t.Errorf("the cookie secret appears in the server's log")
	}
}

// echoedIntact checks the cookies plugin's echo: "METHOD length\nbody".
func echoedIntact(answer string) bool {
	first, body, ok := strings.Cut(answer, "\n")
	return ok && strings.HasSuffix(first, " "+strconv.Itoa(len(body)))
}

func TestXSRFFormInChromium(t *testing.T) {
	chromium := browserChromium(t)
	base, _ := startMiddlewareSite(t)
	bctx := startBrowser(t, chromium)
	// submit loads a form page, runs before in it, clicks the button (from
	// a timer, so the navigation it starts does not cut off the call), and
	// returns the text of the page the form led to.
	submit := func(path, before string) (string, error) {
		if err := chromedp.Do(bctx, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("#go"))); err != nil {
			return "", err
		}
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](before+`; setTimeout(() => document.getElementById("go").click(), 0); true`)); err != nil {
			return "", err
		}
		// While the page is replaced, evaluating can fail: ask again.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.pathname === "/echo" && document.readyState === "complete" ? document.body.innerText : ""`))
			if err == nil && text != "" {
				return text, nil
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("the form's answer did not load (%v)", err)
			}
		}
	}
	for _, form := range []string{"/form", "/form?multipart=1"} {
		text, err := submit(form, "")
		if err != nil {
			t.Fatalf("%s: submit the form: %v", form, err)
		}
		if !strings.HasPrefix(text, "POST ") || !strings.Contains(strings.ReplaceAll(text, "+", " "), "hello from a browser") || !strings.Contains(text, "_xsrf") {
			t.Errorf("%s: the guest got %q, want the form's body with its _xsrf field", form, text)
		}
	}
	// The same form once the cookie is gone: refused.
	text, err := submit("/form", `document.cookie = "_xsrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/"`)
	if err != nil || !strings.Contains(text, "403") {
		t.Errorf("a form posted without the _xsrf cookie: %q (%v), want 403", text, err)
	}
}

func TestGzipWithCurl(t *testing.T) {
	needTool(t, "curl", "apt-get install -y curl")
	base, _ := startMiddlewareSite(t)
	plain, err := exec.Command("curl", "-sS", base+"/status/?kb=100").Output()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("curl", "-sS", "--compressed", "-D", "-", base+"/status/?kb=100").Output()
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(out), "\r\n\r\n")
	if !strings.Contains(strings.ToLower(head), "content-encoding: gzip") || !strings.Contains(head, "Vary: Accept-Encoding") {
		t.Errorf("curl --compressed: headers\n%s\nwant Content-Encoding: gzip and Vary", head)
	}
	if body != string(plain) || len(plain) < 100000 {
		t.Errorf("curl --compressed: %d bytes after decompression, want the %d of the plain answer", len(body), len(plain))
	}

	// A stream still streams: curl -N prints each piece as it arrives.
	cmd := exec.Command("curl", "-sSN", "--compressed", base+"/stream?n=5&delay=200")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		times = append(times, time.Now())
	}
	cmd.Wait()
	if len(times) != 5 || times[4].Sub(times[0]) < 400*time.Millisecond {
		t.Errorf("curl --compressed on a stream: %d lines, over %v; want 5 spread over time", len(times), spread(times))
	}
}

func spread(ts []time.Time) time.Duration {
	if len(ts) < 2 {
		return 0
	}
	return ts[len(ts)-1].Sub(ts[0])
}

package host_test

// The red-team tests of signed-cookie scopes, with Python's requests as
// the client: a plugin that mints a cookie for another scope, a cookie
// moved, renamed or edited, across a key rotation and through a chain.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

func init() {
	plugins["cookiemw"] = "plugins/testplugins/cookiemw"
}

// scopeSite: a and b in their default scopes, c sharing a's on purpose,
// and two chains of a session middleware and its app, one sharing a
// scope ("shared") and one left at the defaults.
const scopeSite = `plugin "a" {
  path  = "{{cookies}}"
  mount = "/a"
}
plugin "b" {
  path  = "{{cookies}}"
  mount = "/b"
}
plugin "c" {
  path         = "{{cookies}}"
  mount        = "/c"
  cookie_scope = "a"
}
plugin "session" {
  path         = "{{cookiemw}}"
  cookie_scope = "shared"
}
plugin "app" {
  path         = "{{cookies}}"
  mount        = "/app"
  middleware   = ["session"]
  cookie_scope = "shared"
}
plugin "session2" { path = "{{cookiemw}}" }
plugin "app2" {
  path       = "{{cookies}}"
  mount      = "/app2"
  middleware = ["session2"]
}`

// scopeAttacks signs cookies where argv[2] says and presents them where
// an attacker would. Each result is [status, body]. With a third
// argument (a JSON object of signed values from an earlier run) it only
// presents those again.
const scopeAttacks = `
import json, sys, requests
base = sys.argv[1]
def sign(path, name, value):
    r = requests.get(base + path, params={"name": name, "value": value}, timeout=10)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.cookies[name]
def present(path, name, value):
    r = requests.get(base + path, params={"name": name}, cookies={name: value}, timeout=10)
    return [r.status_code, r.text.strip()]
def edit(value, i, field):
    parts = value.split("|")
    parts[i] = field
    return "|".join(parts)
out = {}
if len(sys.argv) > 2:
    old = json.loads(sys.argv[2])
    out["a_in_a"] = present("/a/get", "user", old["a"])
    out["a_in_b"] = present("/b/get", "user", old["a"])
    out["a_in_c"] = present("/c/get", "user", old["a"])
    out["b_in_a"] = present("/a/get", "user", old["b"])
    print(json.dumps(out))
    sys.exit(0)
minted = sign("/b/set", "user", "admin")          # b has any value signed...
out["b_minted_in_a"] = present("/a/get", "user", minted)  # ... and a must not believe it
out["b_minted_in_b"] = present("/b/get", "user", minted)
a = sign("/a/set", "user", "alice")
out["a_in_a"] = present("/a/get", "user", a)
out["a_in_b"] = present("/b/get", "user", a)
out["a_in_c"] = present("/c/get", "user", a)       # c shares a's scope
out["c_in_a"] = present("/a/get", "user", sign("/c/set", "user", "carol"))
out["renamed"] = present("/a/get", "admin", a)
out["scope_b_in_b"] = present("/b/get", "user", edit(a, 1, "b"))
out["scope_b_in_a"] = present("/a/get", "user", edit(a, 1, "b"))
out["v2_in_a"] = present("/a/get", "user", "2|" + "|".join(a.split("|")[2:]))
out["scope"] = a.split("|")[:2]
out["mw_to_app"] = present("/app/get", "s", sign("/app/mw/set", "s", "mw-shared"))
out["app_to_mw"] = present("/app/mw/get", "s", sign("/app/set", "s", "app-shared"))
out["mw_to_app2"] = present("/app2/get", "s", sign("/app2/mw/set", "s", "mw-own"))
out["app2_to_mw"] = present("/app2/mw/get", "s", sign("/app2/set", "s", "app-own"))
out["mw_in_mw2"] = present("/app2/mw/get", "s", sign("/app/mw/set", "s", "mw-shared"))
out["mw_in_a"] = present("/a/get", "s", sign("/app/mw/set", "s", "mw-shared"))
out["signed"] = {"a": a, "b": minted}
print(json.dumps(out))
`

func runScopeAttacks(t *testing.T, base string, args ...string) map[string]any {
	t.Helper()
	py := testutil.PythonRequests(t)
	script := filepath.Join(t.TempDir(), "attacks.py")
	if err := os.WriteFile(script, []byte(scopeAttacks), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, append([]string{script, base}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python3 printed %s", out)
	}
	return got
}

func wantResults(t *testing.T, got map[string]any, want map[string]string) {
	t.Helper()
	for k, w := range want {
		r, _ := got[k].([]any)
		s := ""
		if len(r) == 2 {
			s = strings.TrimSuffix(strings.TrimSuffix(jsonText(r[0]), ".0")+" "+jsonText(r[1]), " ")
		}
		if s != w {
			t.Errorf("%s: %q, want %q", k, s, w)
		}
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

const refused = "403 wasmhost: signed cookie is invalid or expired"

func TestSignedCookieScopes(t *testing.T) {
	s := startSite(t, "server { cookie_secret = \""+cookieSecret+"\" }\n"+scopeSite)
	got := runScopeAttacks(t, s.base)
	t.Logf("attacks: %v", got)
	wantResults(t, got, map[string]string{
		"b_minted_in_a": refused,
		"b_minted_in_b": "200 admin",
		"a_in_a":        "200 alice",
		"a_in_b":        refused,
		"a_in_c":        "200 alice",
		"c_in_a":        "200 carol",
		"renamed":       refused,
		"scope_b_in_b":  refused,
		"scope_b_in_a":  refused,
		"v2_in_a":       refused,
		"mw_to_app":     "200 mw-shared",
		"app_to_mw":     "200 app-shared",
		"mw_to_app2":    refused,
		"app2_to_mw":    refused,
		"mw_in_mw2":     refused,
		"mw_in_a":       refused,
	})
	if sc := jsonText(got["scope"]); sc != `["3","a"]` && sc != "[3,a]" {
		t.Errorf("a's cookie starts %s, want version 3 and scope a", sc)
	}
	signed, _ := json.Marshal(got["signed"])

	// Rotation: the old secret becomes the previous one; within its scope
	// a cookie still verifies, and still nowhere else.
	hcl := "server {\n  cookie_secret = \"another-secret-0123456789\"\n  cookie_secret_previous = \"" + cookieSecret + "\"\n}\n" + scopeSite
	for name, dir := range plugins {
		if strings.Contains(hcl, "{{"+name+"}}") {
			hcl = strings.ReplaceAll(hcl, "{{"+name+"}}", testutil.Plugin(t, dir))
		}
	}
	cfg, diags := config.Parse([]byte(hcl), filepath.Join(t.TempDir(), "site.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if err := s.srv.Reload(context.Background(), host.SiteOf(cfg)); err != nil {
		t.Fatal(err)
	}
	wantResults(t, runScopeAttacks(t, s.base, string(signed)), map[string]string{
		"a_in_a": "200 alice",
		"a_in_c": "200 alice",
		"a_in_b": refused,
		"b_in_a": refused,
	})
}

// TestAuthSessionScope: the auth example's session cookie, through curl.
// The app behind auth shares its scope and reads the session; a plugin
// elsewhere on the site that mints a "session" cookie is not believed.
func TestAuthSessionScope(t *testing.T) {
	curl := testutil.Need(t, "curl")
	s := startSite(t, `server { cookie_secret = "`+cookieSecret+`" }
plugin "auth" {
  path         = "{{auth}}"
  env          = { AUTH_TOKEN = "open-sesame", AUTH_USER = "alice" }
  cookie_scope = "admin"
}
plugin "app" {
  path         = "{{cookies}}"
  mount        = "/"
  middleware   = ["auth"]
  cookie_scope = "admin"
}
plugin "other" {
  path  = "{{cookies}}"
  mount = "/other"
}`)
	jar := filepath.Join(t.TempDir(), "jar")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(curl, append([]string{"-s", "-o", "/dev/stderr", "-w", "%{http_code}"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if got := run(s.base + "/get?name=session"); !strings.HasSuffix(got, "401") {
		t.Errorf("no token, no session: %q, want 401", got)
	}
	if got := run("-c", jar, "-H", "Authorization: Bearer open-sesame", s.base+"/get?name=x"); !strings.HasSuffix(got, "403") {
		t.Errorf("with the token: %q, want the app's 403 for a missing cookie x", got)
	}
	if got := run("-b", jar, s.base+"/get?name=session"); got != "alice200" {
		t.Errorf("the session alone, read by the app in the shared scope: %q, want alice200", got)
	}
	// other signs "session=alice" in its own scope: auth refuses it.
	if got := run("-c", jar, s.base+"/other/set?name=session&value=alice"); !strings.HasSuffix(got, "200") {
		t.Fatalf("other/set: %q", got)
	}
	if got := run("-b", jar, s.base+"/get?name=session"); !strings.HasSuffix(got, "401") {
		t.Errorf("a session minted by another plugin: %q, want 401 from auth", got)
	}
}

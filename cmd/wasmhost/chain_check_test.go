package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

func TestCheckMiddlewareKinds(t *testing.T) {
	hello := testutil.Plugin(t, "plugins/examples/hello")
	cookie := testutil.Plugin(t, "plugins/examples/cookie")
	code, out, errOut := runCLI("check", writeSite(t, `plugin "cookie" { path = "`+cookie+`" }
plugin "app" {
  path       = "`+hello+`"
  mount      = "/"
  middleware = ["cookie", "gzip"]
}`))
	if code != 0 || !strings.Contains(out, `plugin "cookie"`) || !strings.Contains(out, "middleware used in chains") ||
		!strings.Contains(out, "handler mounted at /, through cookie → gzip") {
		t.Errorf("check of a good chain: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = runCLI("check", writeSite(t, `plugin "hello" { path = "`+hello+`" }
plugin "app" {
  path       = "`+hello+`"
  mount      = "/app"
  middleware = ["hello"]
}`))
	want := regexp.MustCompile(`site\.hcl:5,17-24: Handler used as middleware; plugin "app": "hello" is a handler`)
	if code != exitUsage || !want.MatchString(errOut) {
		t.Errorf("check of a handler used as middleware: exit %d, stderr %q; want 2 and %s", code, errOut, want)
	}
}

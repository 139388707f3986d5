package main

import (
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/sdk"
)

func TestEnviron(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/env?x=1", nil)
	req.Header.Set("User-Agent", "test-agent")
	sdk.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	lines := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), "\n")
	if !sort.StringsAreSorted(lines) {
		t.Errorf("lines not sorted:\n%s", rec.Body.String())
	}
	for _, want := range []string{"REQUEST_METHOD: GET", "PATH_INFO: /env", "QUERY_STRING: x=1", "HTTP_USER_AGENT: test-agent", "wasmhost.plugin: native"} {
		if !contains(lines, want) {
			t.Errorf("no line %q in:\n%s", want, rec.Body.String())
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmhost/wasmhost/sdk"
)

func TestPage(t *testing.T) {
	for _, path := range []string{"/", ""} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = path // "" is the mount itself: /site rather than /site/
		sdk.Handler().ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %q = %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		for _, want := range []string{
			`<link rel="stylesheet" href="` + sdk.StaticURL("css/site.css") + `">`,
			`<script src="` + sdk.StaticURL("js/site.js") + `" defer>`,
			`<img id="logo" src="` + sdk.StaticURL("img/logo.svg") + `"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the page lacks %s:\n%s", want, body)
			}
		}
		if rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
		}
	}
}

func TestOtherPaths(t *testing.T) {
	rec := httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/other", nil))
	if rec.Code != 404 {
		t.Errorf("GET /other = %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

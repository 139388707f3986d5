package main

import (
	"net/http/httptest"
	"testing"

	"github.com/wasmhost/wasmhost/sdk"
)

// Natively sdk.OpenKV is an in-memory store: the handler's logic is
// tested without a host.
func TestCounterCountsPerSession(t *testing.T) {
	rec := httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || rec.Body.String() != "visits 1\n" {
		t.Fatalf("first visit: %d %q", rec.Code, rec.Body.String())
	}
	cookie := rec.Result().Cookies()[0]
	for want := 2; want <= 3; want++ {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(cookie)
		rec = httptest.NewRecorder()
		sdk.Handler().ServeHTTP(rec, req)
		if got := rec.Body.String(); got != "visits "+string(rune('0'+want))+"\n" {
			t.Errorf("visit %d: %q", want, got)
		}
	}
	// A new visitor starts at 1.
	rec = httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Body.String() != "visits 1\n" {
		t.Errorf("new visitor: %q", rec.Body.String())
	}
}

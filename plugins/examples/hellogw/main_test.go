package main

import (
	"net/http/httptest"
	"testing"

	"github.com/wasmhost/wasmhost/sdk"
)

func TestHelloGateway(t *testing.T) {
	rec := httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/anything", nil))
	if rec.Code != 200 || rec.Body.String() != "Hello, world\n" {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

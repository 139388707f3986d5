package main

import (
	"net/http/httptest"
	"testing"

	"github.com/wasmhost/wasmhost/sdk"
)

func TestStream(t *testing.T) {
	rec := httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/?n=3&delay=0", nil))
	if rec.Code != 200 || rec.Body.String() != "chunk 1\nchunk 2\nchunk 3\n" {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
	if !rec.Flushed {
		t.Error("response was never flushed")
	}
}

func TestStreamDefault(t *testing.T) {
	rec := httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/?delay=1", nil))
	if rec.Body.String() != "chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n" {
		t.Errorf("got %q", rec.Body.String())
	}
}

func TestStreamBadParams(t *testing.T) {
	for _, q := range []string{"n=x", "n=-1", "n=1001", "delay=x", "delay=10001", "delay=-5"} {
		rec := httptest.NewRecorder()
		sdk.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/?"+q, nil))
		if rec.Code != 400 {
			t.Errorf("?%s: status %d, want 400", q, rec.Code)
		}
	}
}

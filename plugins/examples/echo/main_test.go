package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmhost/wasmhost/sdk"
)

func TestEcho(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10000) // several buffers' worth
	req := httptest.NewRequest("POST", "/echo", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-test")
	rec := httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), body) {
		t.Errorf("status %d, %d bytes back, equal %v", rec.Code, rec.Body.Len(), bytes.Equal(rec.Body.Bytes(), body))
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-test" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestEchoNoContentType(t *testing.T) {
	rec := httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/", bytes.NewReader([]byte("<html>"))))
	if ct := rec.Header().Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q; client bytes must not be sniffed", ct)
	}
}

func TestEchoTooLarge(t *testing.T) {
	// The host reports an over-large body as sdk.ErrBodyTooLarge, which
	// matches *http.MaxBytesError like http.MaxBytesReader's error does.
	for name, wrap := range map[string]func(http.ResponseWriter, *http.Request){
		"MaxBytesReader":      func(w http.ResponseWriter, r *http.Request) { r.Body = http.MaxBytesReader(w, r.Body, 0) },
		"sdk.ErrBodyTooLarge": func(w http.ResponseWriter, r *http.Request) { r.Body = failingBody{} },
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", bytes.NewReader([]byte("too much")))
			rec := httptest.NewRecorder()
			wrap(rec, req)
			sdk.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, body %q", rec.Code, rec.Body.String())
			}
		})
	}
}

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, sdk.ErrBodyTooLarge }
func (failingBody) Close() error             { return nil }

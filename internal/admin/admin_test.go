package admin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEndpoints(t *testing.T) {
	h := Handler(Endpoints{
		Status:  func(context.Context) any { return map[string]int{"workers": 2} },
		Metrics: func(_ context.Context, w io.Writer) { io.WriteString(w, "x_total 1\n") },
	})
	get := func(method, path string) (*http.Response, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Result(), rec.Body.String()
	}
	resp, body := get("GET", "/status")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" || body != "{\n  \"workers\": 2\n}\n" {
		t.Errorf("/status: %s %q", ct, body)
	}
	resp, body = get("GET", "/metrics")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || body != "x_total 1\n" {
		t.Errorf("/metrics: %s %q", ct, body)
	}
	// A master serves no plugins to reload.
	if resp, _ = get("POST", "/plugins/a/reload"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("reload without ReloadPlugin: %d, want 404", resp.StatusCode)
	}
}

func TestReloadPlugin(t *testing.T) {
	h := Handler(Endpoints{
		Status:  func(context.Context) any { return nil },
		Metrics: func(context.Context, io.Writer) {},
		ReloadPlugin: func(name string) (any, int) {
			if name != "a" {
				return map[string]string{"error": "no plugin"}, http.StatusNotFound
			}
			return map[string]bool{"swapped": true}, http.StatusOK
		},
	})
	for _, c := range []struct {
		name string
		code int
		body string
	}{{"a", 200, `{"swapped":true}` + "\n"}, {"b", 404, `{"error":"no plugin"}` + "\n"}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/plugins/"+c.name+"/reload", nil))
		if rec.Code != c.code || rec.Body.String() != c.body {
			t.Errorf("reload %s: %d %q, want %d %q", c.name, rec.Code, rec.Body.String(), c.code, c.body)
		}
	}
}

package sdk

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandle(t *testing.T) {
	old := registered
	defer func() { registered = old }()
	h := http.NotFoundHandler()
	Handle(h)
	if Handler() == nil {
		t.Fatal("Handler() is nil after Handle")
	}
	defer func() {
		if recover() == nil {
			t.Error("Handle(nil) did not panic")
		}
	}()
	Handle(nil)
}

func TestEnvironNative(t *testing.T) {
	r := httptest.NewRequest("POST", "http://example.com:8080/a%2Fb?x=1", strings.NewReader("body"))
	r.Header.Set("User-Agent", "ua")
	r.Header.Add("Accept", "a")
	r.Header.Add("Accept", "b")
	r.Header.Set("Content-Type", "text/plain")
	env := Environ(r)
	want := map[string]string{
		"REQUEST_METHOD":          "POST",
		"SCRIPT_NAME":             "",
		"PATH_INFO":               "/a/b",
		"QUERY_STRING":            "x=1",
		"REQUEST_URI":             "http://example.com:8080/a%2Fb?x=1",
		"CONTENT_TYPE":            "text/plain",
		"CONTENT_LENGTH":          "4",
		"SERVER_NAME":             "example.com",
		"SERVER_PORT":             "8080",
		"SERVER_PROTOCOL":         "HTTP/1.1",
		"REMOTE_ADDR":             "192.0.2.1",
		"REMOTE_PORT":             "1234",
		"HTTP_HOST":               "example.com:8080",
		"HTTP_USER_AGENT":         "ua",
		"HTTP_ACCEPT":             "a, b",
		"wasmhost.url_scheme":     "http",
		"wasmhost.plugin":         "native",
		"wasmhost.plugin_version": "native",
		"wasmhost.worker_id":      "native",
		"wasmhost.request_id":     "native",
		"wasmhost.version":        "native",
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if len(env) != len(want) {
		t.Errorf("environ has %d keys, want %d: %v", len(env), len(want), env)
	}

	r = httptest.NewRequest("GET", "https://example.com/", nil)
	r.TLS = &tls.ConnectionState{}
	env = Environ(r)
	if env["wasmhost.url_scheme"] != "https" || env["SERVER_PORT"] != "443" || env["CONTENT_LENGTH"] != "" {
		t.Errorf("https: %v", env)
	}
}

func TestStaticURL(t *testing.T) {
	for in, want := range map[string]string{
		"css/site.css":  "/static/css/site.css",
		"/css/site.css": "/static/css/site.css",
		"":              "/static/",
	} {
		if got := StaticURL(in); got != want {
			t.Errorf("StaticURL(%q) = %q, want %q", in, got, want)
		}
	}
}

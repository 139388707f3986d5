package static

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// FuzzOpen feeds arbitrary request paths to ServeHTTP (both as raw
// request-targets and as already-decoded paths) and to URL, and checks,
// through the real path of every file descriptor the handler opens
// (/proc/self/fd), that nothing outside the root is ever opened, and that
// no response carries the secret kept next to the root.
//
//	go test ./static -run XXX -fuzz FuzzOpen -fuzztime 60s
func FuzzOpen(f *testing.F) {
	for _, tc := range hostileTargets {
		f.Add(strings.TrimPrefix(tc.target, "/static/"))
	}
	for _, s := range []string{"hello.txt", "css/site.css", "link-in", "sub/up-in", "a%20b/c%20d.txt", "../root/hello.txt", "dir-out/root/hello.txt"} {
		f.Add(s)
	}
	fx := newFixture(f, true)
	fx.h.log = hclog.NewNullLogger() // millions of warnings are no use
	root := fx.root + "/"
	f.Fuzz(func(t *testing.T, p string) {
		// Start each input from the same state, so that coverage depends
		// on the input only (the fuzzer's minimizer needs that).
		fx.h.hashes = hashCache{}
		fx.h.warned = limiter{every: warnEvery}
		var reqs []*httptest.ResponseRecorder
		serve := func(u *url.URL, method string) {
			r := httptest.NewRequest(method, "/", nil)
			r.URL = u
			r.RequestURI = u.RequestURI()
			w := httptest.NewRecorder()
			fx.h.ServeHTTP(w, r)
			reqs = append(reqs, w)
		}
		// As the decoded path a server would hand over, under the prefix
		// and at the root (where only root files are served).
		serve(&url.URL{Path: "/static/" + p}, "GET")
		serve(&url.URL{Path: "/" + p}, "HEAD")
		// As a raw request-target, decoded by net/url as net/http does.
		if u, err := url.ParseRequestURI("/static/" + p); err == nil {
			serve(u, "GET")
		}
		fx.h.URL(p)

		fx.mu.Lock()
		opened := fx.opened
		fx.opened = nil
		fx.mu.Unlock()
		for _, o := range opened {
			if !strings.HasPrefix(o, root) {
				t.Fatalf("path %q opened %s, outside the root %s", p, o, fx.root)
			}
		}
		for _, w := range reqs {
			if strings.Contains(w.Body.String(), secret) {
				t.Fatalf("path %q: the response carries the secret: %d %q", p, w.Code, w.Body.String())
			}
			switch w.Code {
			case 200, 403, 404:
			default:
				t.Fatalf("path %q: unexpected status %d", p, w.Code)
			}
		}
	})
}

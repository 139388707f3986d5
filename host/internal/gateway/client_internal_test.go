package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmhost/wasmhost/internal/config"
)

// TestResolveClientWithoutXHeaders: REMOTE_ADDR, REMOTE_PORT and the
// logged address of a direct peer, in canonical form (a 4in6 peer shows as
// IPv4, an upper-case IPv6 address in lower case).
func TestResolveClientWithoutXHeaders(t *testing.T) {
	cfg := &config.Server{TrustedProxies: config.DefaultTrustedProxies()}
	for _, c := range []struct{ remote, addr, port, logged string }{
		{"192.0.2.1:1234", "192.0.2.1", "1234", "192.0.2.1:1234"},
		{"[2001:db8::1]:80", "2001:db8::1", "80", "[2001:db8::1]:80"},
		{"[::ffff:192.0.2.9]:5", "192.0.2.9", "5", "192.0.2.9:5"},
		{"[2001:DB8::1]:80", "2001:db8::1", "80", "[2001:db8::1]:80"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		got := ResolveClient(cfg, r)
		if got.addr != c.addr || got.port != c.port || got.logged != c.logged || got.scheme != "http" {
			t.Errorf("%s: %+v, want addr %s port %s logged %s", c.remote, got, c.addr, c.port, c.logged)
		}
	}
}

func TestServerAddr(t *testing.T) {
	for _, c := range []struct{ host, local, name, port string }{
		{"example.com", "127.0.0.1:8080", "example.com", "8080"},
		{"example.com:8080", "127.0.0.1:8080", "example.com", "8080"},
		{"[::1]:8080", "[::1]:8080", "::1", "8080"},
		{"[::1]", "[::1]:80", "::1", "80"},
		{"", "10.0.0.1:81", "10.0.0.1", "81"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = c.host
		local, _ := net.ResolveTCPAddr("tcp", c.local)
		r = r.WithContext(contextWithLocal(r, local))
		for i := 0; i < 2; i++ { // the second time from the cache
			cl := ResolveClient(&config.Server{}, r)
			if name, port := serverAddr(r, &cl); name != c.name || port != c.port {
				t.Errorf("Host %q on %s: %q %q, want %q %q", c.host, c.local, name, port, c.name, c.port)
			}
		}
	}
}

func contextWithLocal(r *http.Request, a net.Addr) context.Context {
	return context.WithValue(r.Context(), http.LocalAddrContextKey, a)
}

// TestConnInfoAgreesWithTheRequest: what a connection's requests take from
// its connInfo is what they would work out alone, and a request whose
// RemoteAddr is not the connection's (a rewritten one) does not use it.
func TestConnInfoAgreesWithTheRequest(t *testing.T) {
	cfg := &config.Server{TrustedProxies: config.DefaultTrustedProxies()}
	local, _ := net.ResolveTCPAddr("tcp", "127.0.0.1:8080")
	for _, remote := range []string{"192.0.2.1:1234", "[2001:db8::1]:80", "[::ffff:192.0.2.9]:5", "[2001:DB8::1]:80", "not-an-ip"} {
		alone := httptest.NewRequest("GET", "/", nil)
		alone.RemoteAddr = remote
		alone = alone.WithContext(contextWithLocal(alone, local))
		want := ResolveClient(cfg, alone)
		ctx := context.WithValue(alone.Context(), connInfoKey{}, newConnInfo(remote, local))
		got := ResolveClient(cfg, alone.WithContext(ctx))
		if got != want {
			t.Errorf("%s: from connInfo %+v, alone %+v", remote, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.7:99"
	r = r.WithContext(context.WithValue(r.Context(), connInfoKey{}, newConnInfo("192.0.2.1:1234", local)))
	if got := ResolveClient(cfg, r); got.addr != "192.0.2.7" || got.port != "99" {
		t.Errorf("a rewritten RemoteAddr took the connection's: %+v", got)
	}
}

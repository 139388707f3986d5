package xheaders

import (
	"net/http"
	"net/netip"
	"testing"
)

var (
	loopback = prefixes("127.0.0.1/32", "::1/128")
	// proxies is a proxy network beyond loopback, for the walks.
	proxies = prefixes("127.0.0.1/32", "::1/128", "10.0.0.0/8", "fd00::/8")
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// hdr builds a header the way net/http does: names canonicalized, each
// pair one header line.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

type resolveCase struct {
	name       string
	peer       string // default 127.0.0.1
	h          http.Header
	trusted    []netip.Prefix // default loopback
	disabled   bool
	tls        bool
	wantAddr   string // default: the peer
	wantScheme string // default: http, https under tls
}

var resolveCases = []resolveCase{
	// Trust.
	{name: "disabled", h: hdr("X-Real-IP", "1.2.3.4", "X-Scheme", "https"), disabled: true},
	{name: "disabled, TLS", h: hdr("X-Scheme", "http"), disabled: true, tls: true},
	{name: "untrusted peer: every header ignored", peer: "203.0.113.9",
		h: hdr("X-Real-IP", "1.2.3.4", "X-Forwarded-For", "5.6.7.8", "X-Scheme", "https",
			"X-Forwarded-Proto", "https", "Forwarded", "for=9.9.9.9;proto=https")},
	{name: "untrusted peer, TLS: scheme stays https", peer: "203.0.113.9", h: hdr("X-Scheme", "http"), tls: true},
	{name: "loopback excluded from trusted_proxies", h: hdr("X-Real-IP", "6.6.6.6", "X-Forwarded-For", "7.7.7.7"),
		trusted: prefixes("10.0.0.0/8")},
	{name: "empty trusted_proxies", h: hdr("X-Real-IP", "6.6.6.6"), trusted: []netip.Prefix{}},
	{name: "trusted peer, no headers", h: hdr("User-Agent", "curl")},
	{name: "trusted peer ::1", peer: "::1", h: hdr("X-Real-IP", "1.2.3.4"), wantAddr: "1.2.3.4"},
	{name: "peer ::ffff:127.0.0.1 is loopback", peer: "::ffff:127.0.0.1", h: hdr("X-Real-IP", "1.2.3.4"), wantAddr: "1.2.3.4"},
	{name: "zoned peer inside fe80::/10", peer: "fe80::1%eth0", trusted: prefixes("fe80::/10"),
		h: hdr("X-Real-IP", "1.2.3.4"), wantAddr: "1.2.3.4"},

	// X-Real-IP.
	{name: "X-Real-IP", h: hdr("X-Real-IP", "1.2.3.4"), wantAddr: "1.2.3.4"},
	{name: "X-Real-IP with spaces", h: hdr("X-Real-IP", " \t1.2.3.4 "), wantAddr: "1.2.3.4"},
	{name: "X-Real-IP before X-Forwarded-For", h: hdr("X-Forwarded-For", "5.6.7.8", "X-Real-IP", "1.2.3.4"), wantAddr: "1.2.3.4"},
	{name: "X-Real-IP before Forwarded", h: hdr("Forwarded", "for=5.6.7.8", "X-Real-IP", "1.2.3.4"), wantAddr: "1.2.3.4"},
	{name: "invalid X-Real-IP does not fall through to X-Forwarded-For",
		h: hdr("X-Real-IP", "evil.example", "X-Forwarded-For", "5.6.7.8")},
	{name: "X-Real-IP on two lines", h: hdr("X-Real-IP", "1.2.3.4", "X-Real-IP", "5.6.7.8")},
	{name: "X-Real-IP as a list", h: hdr("X-Real-IP", "1.2.3.4, 5.6.7.8")},
	{name: "X-Real-IP empty", h: hdr("X-Real-IP", "")},
	{name: "hostname", h: hdr("X-Real-IP", "localhost")},
	{name: "IPv4 with port", h: hdr("X-Real-IP", "1.2.3.4:80")},
	{name: "markup after the address", h: hdr("X-Real-IP", "4.4.4.4<script>")},
	{name: "NUL byte", h: hdr("X-Real-IP", "1.2.3.4\x00")},
	{name: "newline inside", h: hdr("X-Real-IP", "1.2.3.4\n")},
	{name: "decimal integer", h: hdr("X-Real-IP", "2130706433")},
	{name: "leading zeros (octal?)", h: hdr("X-Real-IP", "001.002.003.004")},
	{name: "IPv4-mapped IPv6 is stored unmapped", h: hdr("X-Real-IP", "::ffff:1.2.3.4"), wantAddr: "1.2.3.4"},
	{name: "IPv6 bare, upper case", h: hdr("X-Real-IP", "2001:DB8:0::1"), wantAddr: "2001:db8::1"},
	{name: "IPv6 in brackets", h: hdr("X-Real-IP", "[2001:db8::1]"), wantAddr: "2001:db8::1"},
	{name: "IPv6 in brackets with port", h: hdr("X-Real-IP", "[2001:db8::1]:443")},
	{name: "IPv4 in brackets", h: hdr("X-Real-IP", "[1.2.3.4]")},
	{name: "IPv6 with zone", h: hdr("X-Real-IP", "fe80::1%eth0")},
	{name: "half a bracket", h: hdr("X-Real-IP", "[2001:db8::1")},

	// X-Forwarded-For.
	{name: "XFF one address", h: hdr("X-Forwarded-For", "1.2.3.4"), wantAddr: "1.2.3.4"},
	{name: "XFF rightmost untrusted hop", trusted: proxies,
		h: hdr("X-Forwarded-For", "6.6.6.6, 1.2.3.4, 10.0.0.2"), wantAddr: "1.2.3.4"},
	{name: "XFF client-supplied prefix is not believed",
		h: hdr("X-Forwarded-For", "6.6.6.6, 1.2.3.4"), wantAddr: "1.2.3.4"},
	{name: "XFF all trusted: leftmost", trusted: proxies,
		h: hdr("X-Forwarded-For", "10.0.0.1, 10.0.0.2, 127.0.0.1"), wantAddr: "10.0.0.1"},
	{name: "XFF invalid hop stops the walk", trusted: proxies,
		h: hdr("X-Forwarded-For", "1.2.3.4, unknown, 10.0.0.2")},
	{name: "XFF invalid hop left of the client is never reached",
		h: hdr("X-Forwarded-For", "garbage, 1.2.3.4"), wantAddr: "1.2.3.4"},
	{name: "XFF rightmost element invalid", h: hdr("X-Forwarded-For", "1.2.3.4, 5.6.7.8:80")},
	{name: "XFF lines are one list", trusted: proxies,
		h: hdr("X-Forwarded-For", "6.6.6.6, 1.2.3.4", "X-Forwarded-For", "10.0.0.3"), wantAddr: "1.2.3.4"},
	{name: "XFF later line is nearer", h: hdr("X-Forwarded-For", "1.2.3.4", "X-Forwarded-For", "5.6.7.8"), wantAddr: "5.6.7.8"},
	{name: "XFF empty elements ignored", trusted: proxies,
		h: hdr("X-Forwarded-For", ",1.2.3.4,, ,10.0.0.2,"), wantAddr: "1.2.3.4"},
	{name: "XFF only empty elements", h: hdr("X-Forwarded-For", " , ")},
	{name: "XFF IPv6 bare and in brackets", h: hdr("X-Forwarded-For", "2001:db8::1, [2001:DB8::2]"), wantAddr: "2001:db8::2"},
	{name: "XFF trusted IPv6 hop skipped", trusted: proxies,
		h: hdr("X-Forwarded-For", "2001:db8::1, [fd00::5]"), wantAddr: "2001:db8::1"},
	{name: "XFF mapped trusted hop skipped", trusted: proxies,
		h: hdr("X-Forwarded-For", "1.2.3.4, ::ffff:10.0.0.9"), wantAddr: "1.2.3.4"},
	{name: "XFF before Forwarded", h: hdr("Forwarded", "for=9.9.9.9", "X-Forwarded-For", "1.2.3.4"), wantAddr: "1.2.3.4"},

	// Forwarded (RFC 7239, its own examples first).
	{name: "Forwarded for, proto, by", h: hdr("Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43"), wantAddr: "192.0.2.60"},
	{name: "Forwarded quoted IPv6 with port", h: hdr("Forwarded", `For="[2001:db8:cafe::17]:4711"`), wantAddr: "2001:db8:cafe::17"},
	{name: "Forwarded quoted IPv4 with port", h: hdr("Forwarded", `for="192.0.2.43:47011"`), wantAddr: "192.0.2.43"},
	{name: "Forwarded list: nearest untrusted", h: hdr("Forwarded", "for=192.0.2.43, for=198.51.100.17"), wantAddr: "198.51.100.17"},
	{name: "Forwarded lines are one list", trusted: proxies,
		h: hdr("Forwarded", "for=192.0.2.43", "Forwarded", "for=10.1.1.1;proto=https"), wantAddr: "192.0.2.43", wantScheme: "https"},
	{name: "Forwarded obfuscated node", h: hdr("Forwarded", "for=_gazonk")},
	{name: "Forwarded unknown", h: hdr("Forwarded", "for=unknown")},
	{name: "Forwarded element without for= stops the walk", h: hdr("Forwarded", "for=1.2.3.4, proto=https"), wantScheme: "https"},
	{name: "Forwarded bare IPv6 unquoted is malformed", h: hdr("Forwarded", "for=2001:db8::1;proto=https")},
	{name: "Forwarded IPv6 without brackets", h: hdr("Forwarded", `for="2001:db8::1"`)},
	{name: "Forwarded IPv4 in brackets", h: hdr("Forwarded", `for="[1.2.3.4]"`)},
	{name: "Forwarded obfuscated port", h: hdr("Forwarded", `for="[::1]:_p0rt"`), wantAddr: "::1"},
	{name: "Forwarded six-digit port", h: hdr("Forwarded", `for="1.2.3.4:123456"`)},
	{name: "Forwarded for= twice", h: hdr("Forwarded", "for=1.2.3.4;for=5.6.7.8;proto=https")},
	{name: "Forwarded unterminated quote", h: hdr("Forwarded", `for="1.2.3.4;proto=https`)},
	{name: "Forwarded quoted-pair is not an address", h: hdr("Forwarded", `for="\1.2.3.4"`)},
	{name: "Forwarded names in any case, spaces after ;", h: hdr("Forwarded", "FOR=1.2.3.4; PROTO=HTTPS"),
		wantAddr: "1.2.3.4", wantScheme: "https"},
	{name: "Forwarded empty elements and pairs", h: hdr("Forwarded", ", ;for=1.2.3.4;;,"), wantAddr: "1.2.3.4"},
	{name: "Forwarded space around = is malformed", h: hdr("Forwarded", "for = 1.2.3.4")},

	// Scheme.
	{name: "X-Scheme https", h: hdr("X-Scheme", "https"), wantScheme: "https"},
	{name: "X-Scheme HTTPS is stored lower-case", h: hdr("X-Scheme", "HTTPS"), wantScheme: "https"},
	{name: "X-Scheme ftp ignored", h: hdr("X-Scheme", "ftp")},
	{name: "X-Scheme ftp ignored under TLS", h: hdr("X-Scheme", "ftp"), tls: true},
	{name: "X-Scheme http under TLS (TLS between proxy and us)", h: hdr("X-Scheme", "http"), tls: true, wantScheme: "http"},
	{name: "X-Scheme empty", h: hdr("X-Scheme", "")},
	{name: "X-Scheme before X-Forwarded-Proto", h: hdr("X-Forwarded-Proto", "https", "X-Scheme", "http"), wantScheme: "http"},
	{name: "invalid X-Scheme does not fall through", h: hdr("X-Scheme", "ftp", "X-Forwarded-Proto", "https")},
	{name: "XFP last element: http, https", h: hdr("X-Forwarded-Proto", "http, https"), wantScheme: "https"},
	{name: "XFP last element: https, http", h: hdr("X-Forwarded-Proto", "https, http"), wantScheme: "http"},
	{name: "XFP last element: https, ftp", h: hdr("X-Forwarded-Proto", "https, ftp")},
	{name: "XFP lines are one list", h: hdr("X-Forwarded-Proto", "http", "X-Forwarded-Proto", "https"), wantScheme: "https"},
	{name: "XFP trailing empty element", h: hdr("X-Forwarded-Proto", "https, "), wantScheme: "https"},
	{name: "XFP before Forwarded proto", h: hdr("Forwarded", "proto=https", "X-Forwarded-Proto", "http"), wantScheme: "http"},
	{name: "Forwarded proto of the last element only", trusted: proxies,
		h: hdr("Forwarded", "for=1.1.1.1;proto=https, for=10.0.0.2"), wantAddr: "1.1.1.1"},
	{name: "Forwarded quoted proto", h: hdr("Forwarded", `proto="https"`), wantScheme: "https"},
	{name: "Forwarded proto ws ignored", h: hdr("Forwarded", "proto=wss")},
	{name: "address and scheme from different headers",
		h: hdr("X-Real-IP", "1.2.3.4", "Forwarded", "for=5.6.7.8;proto=https"), wantAddr: "1.2.3.4", wantScheme: "https"},
}

func (c resolveCase) run(t *testing.T) (netip.Addr, string) {
	t.Helper()
	peer := netip.MustParseAddr(or(c.peer, "127.0.0.1"))
	trusted := c.trusted
	if trusted == nil {
		trusted = loopback
	}
	return Resolve(peer, c.h, trusted, !c.disabled, c.tls)
}

func TestResolve(t *testing.T) {
	if len(resolveCases) < 25 {
		t.Fatalf("only %d cases; the table is meant to keep at least 25 (every header, order and trust case above)", len(resolveCases))
	}
	for _, c := range resolveCases {
		t.Run(c.name, func(t *testing.T) {
			addr, scheme := c.run(t)
			peer := or(c.peer, "127.0.0.1")
			wantAddr := or(c.wantAddr, peer)
			wantScheme := c.wantScheme
			if wantScheme == "" {
				wantScheme = "http"
				if c.tls {
					wantScheme = "https"
				}
			}
			if addr.String() != wantAddr || scheme != wantScheme {
				t.Errorf("Resolve(%s, %q) = %s, %q; want %s, %q", peer, c.h, addr, scheme, wantAddr, wantScheme)
			}
			if addr.String() != peer && (addr.Zone() != "" || addr.Is4In6()) {
				t.Errorf("address %s from a header is not canonical", addr)
			}
		})
	}
}

// TestResolveIsPerRequest: the second request on a connection, without the
// headers, must see the peer again. Resolve keeps no state; this pins it.
func TestResolveIsPerRequest(t *testing.T) {
	peer := netip.MustParseAddr("127.0.0.1")
	if a, _ := Resolve(peer, hdr("X-Real-IP", "9.9.9.9"), loopback, true, false); a.String() != "9.9.9.9" {
		t.Fatalf("first request: %s, want 9.9.9.9", a)
	}
	if a, _ := Resolve(peer, hdr("Accept", "*/*"), loopback, true, false); a != peer {
		t.Fatalf("second request: %s, want the peer %s", a, peer)
	}
}

// TestResolveDoesNotAllocate: Resolve runs on every request.
func TestResolveDoesNotAllocate(t *testing.T) {
	peer := netip.MustParseAddr("127.0.0.1")
	for _, h := range []http.Header{
		hdr("X-Real-IP", "203.0.113.5", "X-Scheme", "HTTPS"),
		hdr("X-Forwarded-For", "198.51.100.1, 2001:db8::1, 10.0.0.1", "X-Forwarded-Proto", "http, https"),
		hdr("Forwarded", `for=192.0.2.60;proto=https;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`),
		hdr("X-Real-IP", "not an address"),
	} {
		if n := testing.AllocsPerRun(100, func() { Resolve(peer, h, proxies, true, false) }); n != 0 {
			t.Errorf("Resolve(%q) allocates %v times, want 0", h, n)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	peer := netip.MustParseAddr("127.0.0.1")
	for _, bc := range []struct {
		name string
		h    http.Header
	}{
		{"none", hdr("User-Agent", "bench")},
		{"X-Real-IP", hdr("X-Real-IP", "203.0.113.5", "X-Scheme", "https")},
		{"XFF3", hdr("X-Forwarded-For", "198.51.100.1, 203.0.113.5, 10.0.0.1", "X-Forwarded-Proto", "https")},
		{"Forwarded", hdr("Forwarded", `for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"`)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Resolve(peer, bc.h, proxies, true, false)
			}
		})
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

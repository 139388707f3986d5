package xheaders

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// Peers and trust sets the fuzzer chooses from by index: header values are
// where the attack surface is, so they are the free-form inputs.
var (
	fuzzPeers = []netip.Addr{
		netip.MustParseAddr("127.0.0.1"),
		netip.MustParseAddr("::1"),
		netip.MustParseAddr("::ffff:127.0.0.1"),
		netip.MustParseAddr("10.1.2.3"),
		netip.MustParseAddr("203.0.113.7"),
		netip.MustParseAddr("2001:db8::7"),
		netip.MustParseAddr("fe80::1%eth0"),
	}
	fuzzTrust = [][]netip.Prefix{
		nil,
		loopback,
		proxies,
		prefixes("0.0.0.0/0", "::/0"),
		prefixes("fe80::/10", "10.0.0.0/8"),
	}
)

// FuzzResolve checks, for arbitrary header values, that Resolve
//   - never panics, and returns http or https;
//   - ignores the headers entirely when disabled or the peer is untrusted;
//   - returns the peer or a valid, zoneless, unmapped address that is
//     spelled in one of the headers (so a header can never conjure an
//     address out of arithmetic or garbage);
//   - for X-Forwarded-For alone, agrees with a plain right-to-left walk
//     (the reference below), which the one-pass walker must equal.
//
// A "\n" in a value splits it into several header lines. The seeds run
// under plain go test.
func FuzzResolve(f *testing.F) {
	type seed struct {
		peer, trust                uint8
		enabled, tls               bool
		realIP, xff, sch, xfp, fwd string
	}
	for _, s := range []seed{
		{0, 1, true, false, "1.2.3.4", "", "https", "", ""},
		{0, 2, true, false, "", "6.6.6.6, 1.2.3.4, 10.0.0.2", "", "http, https", ""},
		{0, 2, true, false, "", "10.0.0.1,10.0.0.2", "", "", ""},
		{0, 2, true, false, "", "1.2.3.4, unknown, 10.0.0.2\n::ffff:10.0.0.3", "", "", ""},
		{1, 1, true, true, "[2001:db8::1]", "", "ftp", "", ""},
		{2, 1, true, false, "::ffff:1.2.3.4", "", "", "", ""},
		{4, 1, true, false, "1.2.3.4", "5.6.7.8", "https", "", "for=9.9.9.9"},
		{0, 1, false, true, "1.2.3.4", "", "http", "", ""},
		{0, 1, true, false, "4.4.4.4<script>", "", "", "", ""},
		{0, 1, true, false, "1.2.3.4\x00", "", "", "", ""},
		{0, 1, true, false, "2130706433", "", "", "", ""},
		{0, 1, true, false, "1.2.3.4:80", "", "", "", ""},
		{0, 1, true, false, "", "", "", "", `for=192.0.2.60;proto=https;by=203.0.113.43`},
		{0, 2, true, false, "", "", "", "", "for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\"\nfor=10.0.0.1;proto=HTTPS"},
		{0, 1, true, false, "", "", "", "", `for="\[::1\]";proto="https`},
		{0, 1, true, false, "", "", "", "", `for=_gazonk, FOR=unknown;;, for="1.2.3.4:_x"`},
		{6, 4, true, false, "fe80::2%eth0", "", "", "", ""},
		{3, 3, true, false, "", "2001:DB8::1, [2001:db8::2]:80, 0.0.0.0", "", "https,", ""},
	} {
		f.Add(s.peer, s.trust, s.enabled, s.tls, s.realIP, s.xff, s.sch, s.xfp, s.fwd)
	}
	f.Fuzz(func(t *testing.T, peerSel, trustSel uint8, enabled, tls bool, realIP, xff, sch, xfp, fwd string) {
		peer := fuzzPeers[int(peerSel)%len(fuzzPeers)]
		trusted := fuzzTrust[int(trustSel)%len(fuzzTrust)]
		h := http.Header{}
		set := func(name, v string) {
			if v != "" {
				h[name] = strings.Split(v, "\n")
			}
		}
		set(headerRealIP, realIP)
		set(headerForwardedFor, xff)
		set(headerScheme, sch)
		set(headerForwardedProto, xfp)
		set(headerForwarded, fwd)

		addr, scheme := Resolve(peer, h, trusted, enabled, tls)

		def := "http"
		if tls {
			def = "https"
		}
		if scheme != "http" && scheme != "https" {
			t.Fatalf("scheme %q", scheme)
		}
		if !enabled || !isTrusted(trusted, peer) {
			if addr != peer || scheme != def {
				t.Fatalf("headers honored without trust: %s %q (peer %s)", addr, scheme, peer)
			}
			return
		}
		if addr == peer {
			// fine: no header, or an unusable one
		} else if !addr.IsValid() || addr.Zone() != "" || addr.Is4In6() {
			t.Fatalf("address %#v is not a canonical IP", addr)
		} else if !spelledIn(addr, realIP, xff, fwd) {
			t.Fatalf("address %s does not appear in the headers %q", addr, h)
		}

		if realIP == "" && xff != "" {
			want, ok := referenceWalk(strings.Split(xff, "\n"), trusted)
			if !ok {
				want = peer
			}
			if addr != want {
				t.Fatalf("X-Forwarded-For %q: got %s, the reference walk says %s", xff, addr, want)
			}
		}
	})
}

// spelledIn reports whether some fragment of the values, cut at every
// delimiter the header syntaxes use, parses as a (the "accepted
// spellings": brackets, ports, quotes, ::ffff: mapping, upper case).
func spelledIn(a netip.Addr, values ...string) bool {
	for _, v := range values {
		for _, frag := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(" \t\n,;=\"[]", r) }) {
			if b, err := netip.ParseAddr(frag); err == nil && b.Unmap() == a {
				return true
			}
			if i := strings.LastIndexByte(frag, ':'); i > 0 {
				if b, err := netip.ParseAddr(frag[:i]); err == nil && b.Unmap() == a {
					return true
				}
			}
		}
	}
	return false
}

// referenceWalk is the package documentation's rule written the obvious,
// allocating way: split everything, then walk right to left.
func referenceWalk(lines []string, trusted []netip.Prefix) (netip.Addr, bool) {
	var elems []string
	for _, line := range lines {
		for _, e := range strings.Split(line, ",") {
			if e = strings.Trim(e, " \t"); e != "" {
				elems = append(elems, e)
			}
		}
	}
	for i := len(elems) - 1; i >= 0; i-- {
		a, ok := parseIP(elems[i])
		if !ok {
			return netip.Addr{}, false
		}
		if !isTrusted(trusted, a) || i == 0 {
			return a, true
		}
	}
	return netip.Addr{}, false
}

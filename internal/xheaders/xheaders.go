// Package xheaders decides which client address and URL scheme a request
// stands for when wasmhost runs behind a reverse proxy (server.xheaders).
//
// # The model
//
// Behind a proxy, the TCP peer is the proxy, not the client. Proxies say who
// the client was in request headers, but any client can send the same
// headers, so a header is evidence only when the hop that wrote it is
// trusted. Tornado's xheaders=True believes the headers from anyone
// (tornado#904), which lets every client pick its own REMOTE_ADDR; gunicorn
// believes them only from forwarded_allow_ips. wasmhost follows gunicorn:
// nothing in a header is looked at unless server.xheaders is on AND the TCP
// peer is inside server.trusted_proxies (loopback by default, the usual
// nginx-on-the-same-host deployment). From any other peer, Resolve returns
// the peer and the connection's own scheme, whatever the headers say.
//
// Resolve is a pure function of one request: nothing is remembered between
// requests, so a later request on the same keep-alive connection without the
// headers gets the peer address again.
//
// # Client address: which header
//
// The first of these headers that is present decides, in this order:
//
//  1. X-Real-IP: one address. Tornado's deployment guide (and
//     deploy/nginx.conf) set it with proxy_set_header, which replaces
//     whatever the client sent, so the trusted proxy alone wrote it and no
//     list needs walking. It comes first because it is the most direct
//     statement a proxy can make.
//  2. X-Forwarded-For: a list that each proxy appends its peer to, walked
//     as described below.
//  3. Forwarded (RFC 7239): the for= parameters, walked like
//     X-Forwarded-For. It is the standard, yet it comes last on purpose:
//     nginx, the proxy Tornado's guide and deploy/nginx.conf set up, neither
//     sets nor removes it, so it passes a client's Forwarded header through
//     untouched. Ranked above the X- headers, one made-up header would then
//     let any client behind a stock nginx choose its address. Ranked last,
//     it is read only when the proxy set neither X- header: a proxy set up
//     to speak only RFC 7239.
//
// "Present" means present: when the deciding header's value is unusable
// (not an IP, a list where one address belongs, a malformed Forwarded), the
// peer address stays and the lower headers are NOT consulted. Falling
// through would let a client that can add a header the proxy does not
// overwrite pick which header is believed. No ordering protects against a
// proxy that sets one header and passes a client's copy of a higher one
// through; the proxy must set or remove every header ranked above the one
// it uses (deploy/nginx.conf sets X-Real-IP, the top one).
//
// # Walking a list
//
// X-Forwarded-For lines (several header lines are one list, in order) and
// Forwarded elements are read right to left, nearest hop first, the way
// nginx's realip module does with real_ip_recursive on:
//
//   - an address inside trusted_proxies is one of our proxies: skip it;
//   - the first address outside them is the client: what is to its left
//     was written by the client or by hops nobody vouches for;
//   - if every address is trusted, the leftmost is the client (a request
//     from inside the proxy network);
//   - an element that is not a valid address (a hostname, "unknown", an
//     obfuscated Forwarded node, a Forwarded element without for=) stops
//     the walk and the peer address stays: a trusted hop claims its client
//     was something we cannot name, and nothing to the left of it can be
//     believed more than that claim.
//
// Empty list elements ("a,,b", a trailing comma) are ignored, as RFC 9110
// §5.6.1 asks of list recipients.
//
// # Valid addresses
//
// An address is valid only when it parses with net/netip as it stands after
// trimming spaces and tabs: dotted-quad IPv4 without leading zeros, or IPv6,
// bare or in brackets ("[2001:db8::1]"), with no zone. Ports are refused in
// X-Real-IP and X-Forwarded-For ("1.2.3.4:80"): no proxy writes them there,
// and accepting them would invite ambiguity with bare IPv6. Forwarded's for=
// follows RFC 7239's node syntax instead: IPv4 or bracketed IPv6, optionally
// with ":port" or ":_obfport", quoted when it has a colon. Anything else
// (hostnames, "2130706433", "4.4.4.4<script>", NUL bytes, quoted-pairs) is
// ignored. An accepted address is returned unmapped (::ffff:1.2.3.4 is
// 1.2.3.4), so its String() is the canonical spelling REMOTE_ADDR needs.
//
// # Scheme
//
// The first present of X-Scheme, X-Forwarded-Proto, and the proto= of the
// LAST Forwarded element decides, with the same no-fall-through rule. For
// X-Scheme and X-Forwarded-Proto the last list element counts (Tornado reads
// both that way; the last one was written by the nearest proxy). Only "http"
// and "https" are accepted, in any case, and returned lower-case; anything
// else ("ftp", "wss", "") leaves the connection's own scheme: "https" on
// TLS, else "http".
//
// # Cost
//
// Resolve runs for every request, so it does not allocate on the paths
// proxies produce (see TestResolveDoesNotAllocate): headers are read by
// their canonical keys without http.Header.Get's canonicalization, lists
// are scanned in place with no splitting, and no regular expressions are
// used. The right-to-left walk is computed in one left-to-right pass (see
// walker), so no list is materialized. Only a value made of address
// characters that still fails to parse (say "1.2.3.4.5") costs netip's
// error value.
package xheaders

import (
	"net/http"
	"net/netip"
	"strings"
)

// Canonical header keys, as net/http stores them (textproto canonicalizes
// "X-Real-IP" to "X-Real-Ip").
const (
	headerRealIP         = "X-Real-Ip"
	headerForwardedFor   = "X-Forwarded-For"
	headerScheme         = "X-Scheme"
	headerForwardedProto = "X-Forwarded-Proto"
	headerForwarded      = "Forwarded"
)

// Resolve returns the client address and URL scheme of a request. peer is
// the TCP peer's address; tls says whether the connection is TLS (the
// scheme without headers is "https" then, else "http"). When enabled is
// false, or peer is not inside one of trusted, the headers are ignored and
// (peer, default scheme) is returned. Headers are read with the canonical
// names (X-Real-Ip, X-Forwarded-For, X-Scheme, X-Forwarded-Proto, Forwarded).
//
// A client address taken from a header is valid, has no zone and is never
// an IPv4-mapped IPv6 address; see the package documentation for the rules.
func Resolve(peer netip.Addr, h http.Header, trusted []netip.Prefix, enabled, tls bool) (client netip.Addr, scheme string) {
	client, scheme = peer, "http"
	if tls {
		scheme = "https"
	}
	if !enabled || len(h) == 0 || !isTrusted(trusted, peer) {
		return client, scheme
	}

	// Forwarded is parsed at most once, for whichever of address and
	// scheme needs it.
	var fwd forwarded
	fwdParsed := false
	parseFwd := func() {
		if !fwdParsed {
			fwd = parseForwarded(h[headerForwarded], trusted)
			fwdParsed = true
		}
	}

	switch {
	case len(h[headerRealIP]) > 0:
		if a, ok := realIP(h[headerRealIP]); ok {
			client = a
		}
	case len(h[headerForwardedFor]) > 0:
		if a, ok := walkForwardedFor(h[headerForwardedFor], trusted); ok {
			client = a
		}
	case len(h[headerForwarded]) > 0:
		parseFwd()
		if fwd.addr.IsValid() {
			client = fwd.addr
		}
	}

	switch {
	case len(h[headerScheme]) > 0:
		if s, ok := schemeOf(lastElement(h[headerScheme])); ok {
			scheme = s
		}
	case len(h[headerForwardedProto]) > 0:
		if s, ok := schemeOf(lastElement(h[headerForwardedProto])); ok {
			scheme = s
		}
	case len(h[headerForwarded]) > 0:
		parseFwd()
		if s, ok := schemeOf(fwd.proto); ok {
			scheme = s
		}
	}
	return client, scheme
}

// isTrusted reports whether a is inside one of trusted. The address is
// unmapped (a dual-stack listener may report ::ffff:127.0.0.1) and its zone
// dropped (netip.Prefix.Contains never matches a zoned address, yet
// fe80::/10 should cover fe80::1%eth0).
func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// realIP reads X-Real-IP: exactly one header line holding one address. Two
// lines mean two writers, and nothing says which one was the proxy.
func realIP(lines []string) (netip.Addr, bool) {
	if len(lines) != 1 {
		return netip.Addr{}, false
	}
	return parseIP(trimOWS(lines[0]))
}

// parseIP parses an X-Real-IP or X-Forwarded-For element: an IPv4 or IPv6
// address, the IPv6 one optionally in brackets, no port, no zone.
func parseIP(s string) (netip.Addr, bool) {
	bracketed := len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']'
	if bracketed {
		s = s[1 : len(s)-1]
	}
	if !addrChars(s) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || (bracketed && !a.Is6()) {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// addrChars reports whether s has only the characters of an IP address:
// hex digits, '.' and ':'. It turns most garbage (hostnames, markup, NUL,
// spaces) away before netip, whose error values allocate, and it refuses
// zones: a zone means nothing on another host, and netip interns it.
func addrChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// walker computes the right-to-left walk of the package documentation in a
// single left-to-right pass, so no list is ever split into a slice. After
// each hop, addr is the walk's answer for the list seen so far:
//
//   - an invalid hop would stop any walk that reaches it, and every walk
//     reaches it unless a later untrusted hop answers first: no answer;
//   - an untrusted hop is the answer (it is the rightmost one so far);
//   - a trusted hop is skipped by the walk, which leaves the answer as it
//     was, except when it is the first hop: then all hops so far are
//     trusted and the leftmost one is the answer.
type walker struct {
	trusted []netip.Prefix
	addr    netip.Addr // the zero Addr: no answer
	seen    bool       // at least one (non-empty) hop was seen
}

func (w *walker) hop(a netip.Addr, valid bool) {
	switch {
	case !valid:
		w.addr = netip.Addr{}
	case !isTrusted(w.trusted, a) || !w.seen:
		w.addr = a
	}
	w.seen = true
}

// walkForwardedFor walks the X-Forwarded-For lines as one list.
func walkForwardedFor(lines []string, trusted []netip.Prefix) (netip.Addr, bool) {
	w := walker{trusted: trusted}
	for _, line := range lines {
		for line != "" {
			elem := line
			if i := strings.IndexByte(line, ','); i >= 0 {
				elem, line = line[:i], line[i+1:]
			} else {
				line = ""
			}
			if elem = trimOWS(elem); elem == "" {
				continue
			}
			w.hop(parseIP(elem))
		}
	}
	return w.addr, w.addr.IsValid()
}

// lastElement is the last non-empty element of a comma-separated list
// spread over header lines, or "" if there is none.
func lastElement(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			j := strings.LastIndexByte(line, ',')
			if elem := trimOWS(line[j+1:]); elem != "" {
				return elem
			}
			if j < 0 {
				break
			}
			line = line[:j]
		}
	}
	return ""
}

// schemeOf accepts http and https in any case and returns them lower-case,
// as constants, so that nothing is allocated.
func schemeOf(s string) (string, bool) {
	switch {
	case strings.EqualFold(s, "https"):
		return "https", true
	case strings.EqualFold(s, "http"):
		return "http", true
	}
	return "", false
}

// trimOWS trims the optional whitespace of RFC 9110 (spaces and tabs) and
// nothing else: a newline or NUL in a value makes it invalid, not trimmed.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

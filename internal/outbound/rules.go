// Package outbound is the host side of a plugin's outbound HTTP: which
// destinations a plugin may reach (its allowed_hosts rules) and the
// transport that reaches them.
//
// Deny by default. Each request's URL must match a rule; then the address
// the transport actually dials is checked again, so a name that resolves
// (or re-resolves, after a DNS rebinding) to a loopback, private,
// link-local or metadata address is refused unless a rule names that exact
// IP (or localhost) and port. Rules are checked per request, redirects
// included: the host makes single round trips and the guest's client
// follows redirects, each one a new request to check.
package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one allowed_hosts entry: scheme://host[:port], with "*." before
// the host matching its subdomains (not the host itself).
type Rule struct {
	Scheme   string     // "http" or "https"
	Host     string     // lower case; for a wildcard, the part after "*."
	Wildcard bool       // "*.example.org"
	Port     int        // explicit, or the scheme's
	IP       netip.Addr // when Host is an IP literal
}

// String is the entry in its normal form.
func (r Rule) String() string {
	h := r.Host
	if r.IP.Is6() {
		h = "[" + h + "]"
	}
	if r.Wildcard {
		h = "*." + h
	}
	return r.Scheme + "://" + h + ":" + strconv.Itoa(r.Port)
}

// ParseRule parses one allowed_hosts entry.
func ParseRule(entry string) (Rule, error) {
	scheme, rest, ok := strings.Cut(entry, "://")
	if !ok {
		return Rule{}, errors.New(`expected scheme://host[:port], like "https://api.example.com"`)
	}
	scheme = strings.ToLower(scheme)
	r := Rule{Scheme: scheme}
	switch scheme {
	case "http":
		r.Port = 80
	case "https":
		r.Port = 443
	default:
		return Rule{}, fmt.Errorf("scheme %q is not http or https", scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#@ \t") {
		return Rule{}, errors.New("an entry is scheme://host[:port], without user, path, query or spaces")
	}
	host, port := rest, ""
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
		host = rest[1 : len(rest)-1]
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Rule{}, fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
		r.Port = n
	}
	if h, ok := strings.CutPrefix(host, "*."); ok {
		r.Wildcard, host = true, h
	}
	host = strings.ToLower(host)
	if ip, err := netip.ParseAddr(host); err == nil {
		if r.Wildcard {
			return Rule{}, errors.New("a wildcard needs a domain name, not an IP address")
		}
		if ip.Zone() != "" {
			return Rule{}, errors.New("an IPv6 zone is not allowed")
		}
		r.IP = ip.Unmap()
		r.Host = r.IP.String()
		return r, nil
	}
	if !validName(host) {
		return Rule{}, fmt.Errorf("%q is not a host name or IP address", host)
	}
	r.Host = host
	return r, nil
}

func validName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Rules are a plugin's allowed_hosts.
type Rules []Rule

// Allows reports whether a request to scheme://host:port matches a rule.
// host is without brackets.
func (rs Rules) Allows(scheme, host string, port int) bool {
	_, ok := rs.match(scheme, host, port)
	return ok
}

// match returns the first rule a request to scheme://host:port matches.
func (rs Rules) match(scheme, host string, port int) (Rule, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	}
	for _, r := range rs {
		if r.Scheme != scheme || r.Port != port {
			continue
		}
		if r.Wildcard {
			if strings.HasSuffix(host, "."+r.Host) {
				return r, true
			}
		} else if host == r.Host {
			return r, true
		}
	}
	return Rule{}, false
}

// allowsAddr reports whether the dialled address ip:port may be reached.
// A public address may (the request's URL already matched a rule); any
// other only when a rule names that IP, or localhost for a loopback
// address, with that port.
func (rs Rules) allowsAddr(ip netip.Addr, port int) bool {
	ip = ip.Unmap()
	if isPublic(ip) {
		return true
	}
	for _, r := range rs {
		if r.Port != port {
			continue
		}
		if r.IP == ip || (r.Host == "localhost" && !r.Wildcard && ip.IsLoopback()) {
			return true
		}
	}
	return false
}

// mayDial reports whether a request whose URL named host (which matched
// a rule) may connect to ip. A public address always may; another only
// when the URL named it literally (an IP rule matched it) or named
// localhost and ip is loopback.
func (rs Rules) mayDial(host string, ip netip.Addr) bool {
	ip = ip.Unmap()
	if isPublic(ip) {
		return true
	}
	if lit, err := netip.ParseAddr(host); err == nil {
		return lit.Unmap() == ip
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") && ip.IsLoopback()
}

// metadata are the cloud instance-metadata addresses not already covered
// by the link-local ranges (169.254.169.254, fe80::/10).
var metadata = []netip.Prefix{
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS over IPv6 (also private, listed for clarity)
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud
	netip.MustParsePrefix("100.64.0.0/10"),      // carrier-grade NAT, never a public service
	netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking
}

// isPublic reports whether ip is a globally routed unicast address.
func isPublic(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() {
		return false
	}
	for _, p := range metadata {
		if p.Contains(ip) {
			return false
		}
	}
	// 0.0.0.0/8 reaches this host on Linux.
	if ip.Is4() && ip.As4()[0] == 0 {
		return false
	}
	return true
}

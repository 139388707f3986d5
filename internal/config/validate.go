package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wasmhost/wasmhost/abi"
)

// The checks below return plain errors rather than diagnostics so that the
// command line (--listen) can apply exactly the same rules as site.hcl.

// CheckListenAddr accepts "host:port" with a numeric port 0..65535. The host
// may be empty (all interfaces), a name, or an IP (IPv6 in brackets).
func CheckListenAddr(s string) error {
	s, _ = SplitListen(s)
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return fmt.Errorf("%q is not host:port: %s", s, ae.Err)
		}
		return fmt.Errorf("%q is not host:port", s)
	}
	if strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' }) {
		return fmt.Errorf("%q: invalid host %q", s, host)
	}
	if port == "" || strings.TrimLeft(port, "0123456789") != "" {
		return fmt.Errorf("%q: the port must be a number, not %q", s, port)
	}
	if n, err := strconv.Atoi(port); err != nil || n > 65535 {
		return fmt.Errorf("%q: the port must be 0..65535", s)
	}
	return nil
}

// SplitListen separates an optional "http://" or "https://" from a listen
// entry: "https://127.0.0.1:8443" is the address 127.0.0.1:8443, served
// with TLS. The scheme is "" when the entry has none.
func SplitListen(s string) (addr, scheme string) {
	for _, sc := range []string{"http", "https"} {
		if rest, ok := strings.CutPrefix(s, sc+"://"); ok {
			return strings.TrimSuffix(rest, "/"), sc
		}
	}
	return s, ""
}

// ApplyListen sets the listeners from entries (the file's listen, or the
// --listen flags): which are TLS follows their schemes, or, when no entry
// has one, whether there is a tls block (then all are).
func (s *Server) ApplyListen(entries []string) error {
	addrs := make([]string, len(entries))
	tls := make([]bool, len(entries))
	explicit := false
	for i, e := range entries {
		if err := CheckListenAddr(e); err != nil {
			return err
		}
		var scheme string
		addrs[i], scheme = SplitListen(e)
		explicit = explicit || scheme != ""
		tls[i] = scheme == "https"
		if tls[i] && s.TLS == nil {
			return fmt.Errorf("%q needs a tls block with a certificate", e)
		}
	}
	if !explicit {
		for i := range tls {
			tls[i] = s.TLS != nil
		}
	}
	s.Listen, s.ListenTLS = addrs, tls
	return nil
}

// listenKey normalizes an address for duplicate detection; port 0 picks a
// fresh port each time, so such addresses never clash.
func listenKey(s string) (key string, fixed bool) {
	s, _ = SplitListen(s)
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return s, false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n == 0 {
		return s, false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.String()
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.Itoa(n)), true
}

// ParsePrefix parses a CIDR prefix, or a bare IP meaning just that address
// (/32 or /128). Host bits are masked off so that comparisons are simple.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix such as \"10.0.0.0/8\"", s)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR prefix such as \"10.0.0.0/8\"", s)
	}
	if ip.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: zoned addresses are not supported", s)
	}
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// badURLChar rejects what can never match a request path as routed:
// whitespace and controls, and the query and fragment delimiters.
func badURLChar(r rune) bool {
	return r <= ' ' || r == 0x7f || r == '?' || r == '#'
}

// checkURLPath holds the rules shared by mounts and the static prefix: a
// path that routing could never match exactly is a config bug, not a style.
func checkURLPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must start with \"/\"", p)
	}
	if strings.ContainsFunc(p, badURLChar) {
		return fmt.Errorf("%q must not contain spaces, control characters, \"?\" or \"#\"", p)
	}
	if strings.Contains(p, "//") {
		return fmt.Errorf("%q must not contain \"//\"", p)
	}
	for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%q must not contain \".\" or \"..\" segments", p)
		}
	}
	return nil
}

// NormalizeMount validates a plugin mount and removes a trailing "/" (except
// for "/" itself), so that "/api" and "/api/" are recognized as the same
// mount and SCRIPT_NAME never ends in "/".
func NormalizeMount(m string) (string, error) {
	if err := checkURLPath(m); err != nil {
		return "", err
	}
	if len(m) > 1 {
		m = strings.TrimSuffix(m, "/")
	}
	return m, nil
}

func checkURLPrefix(p string) error {
	if err := checkURLPath(p); err != nil {
		return err
	}
	if !strings.HasSuffix(p, "/") {
		return fmt.Errorf("%q must end with \"/\" (try %q)", p, p+"/")
	}
	return nil
}

// checkRootFile keeps root_files to names inside the static folder.
func checkRootFile(name string) error {
	switch {
	case name == "":
		return errors.New("a file name must not be empty")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a file name", name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("%q must be a plain file name in the static folder, without \"/\"", name)
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("%q must not contain control characters", name)
	}
	return nil
}

// checkPluginName keeps names safe for log fields, metric labels and the
// wasmhost.plugin environ entry.
func checkPluginName(name string) error {
	if name == "" {
		return errors.New("the name must not be empty")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return fmt.Errorf("the name may contain only letters, digits, \"_\", \".\" and \"-\", not %q", r)
		}
	}
	return nil
}

// checkEnvKey rejects keys that cannot round-trip through a KEY=VALUE environ.
func checkEnvKey(k string) error {
	switch {
	case k == "":
		return errors.New("a name must not be empty")
	case strings.Contains(k, "="):
		return fmt.Errorf("%q must not contain \"=\"", k)
	case strings.ContainsRune(k, 0):
		return fmt.Errorf("%q must not contain a NUL byte", k)
	case hostEnvKey(k):
		return fmt.Errorf("%q is set by the host in every request's environ (the CGI keys, HTTP_* for the request's headers, wasmhost.*), and a plugin's env must not replace it", k)
	}
	return nil
}

// hostEnvKey says whether the host sets k in a request's environ. A
// plugin's env entries come after the request's own, so one of these
// names would shadow what the guest believes about the request: a fixed
// REMOTE_ADDR defeats an allow-list, a SCRIPT_NAME breaks its links, an
// HTTP_X_USER poses as a header an auth middleware set, and HTTP_PROXY
// is the header clients send to hijack a proxy setting (httpoxy).
func hostEnvKey(k string) bool {
	switch k {
	case abi.KeyRequestMethod, abi.KeyScriptName, abi.KeyPathInfo, abi.KeyQueryString,
		abi.KeyRequestURI, abi.KeyContentType, abi.KeyContentLength, abi.KeyServerName,
		abi.KeyServerPort, abi.KeyServerProtocol, abi.KeyRemoteAddr, abi.KeyRemotePort:
		return true
	}
	return strings.HasPrefix(k, abi.HeaderPrefix) || strings.HasPrefix(k, "wasmhost.")
}

func quote(s string) string { return strconv.Quote(s) }

func resolve(dir, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p)
}

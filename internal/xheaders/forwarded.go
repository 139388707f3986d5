package xheaders

import (
	"net/netip"
	"strings"
)

// forwarded is what Resolve needs from a Forwarded header (RFC 7239).
type forwarded struct {
	addr  netip.Addr // the walk's answer over the for= values; zero if none
	proto string     // the last element's proto=, unvalidated; "" if absent
}

// parseForwarded reads the Forwarded lines as one list of elements
//
//	Forwarded         = 1#forwarded-element
//	forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
//	forwarded-pair    = token "=" ( token / quoted-string )
//
// walking the for= values like X-Forwarded-For. Spaces and tabs are allowed
// around "," and ";" (real proxies write "for=a; proto=b"), not around "=".
// A header that does not follow the grammar, or names for= or proto= twice
// in one element (RFC 7239 §4 forbids it, and either copy could be the
// forged one), is ignored as a whole: the zero forwarded is returned.
func parseForwarded(lines []string, trusted []netip.Prefix) forwarded {
	w := walker{trusted: trusted}
	var proto string
	for _, line := range lines {
		i := 0
		for {
			// One element, up to "," or the end of the line.
			var forVal, protoVal string
			var hasFor, hasProto, forEscaped, protoEscaped, pairs bool
			for {
				i = skipOWS(line, i)
				if i == len(line) || line[i] == ',' {
					break
				}
				if line[i] == ';' {
					i++
					continue
				}
				j := i
				for j < len(line) && isTchar(line[j]) {
					j++
				}
				if j == i || j == len(line) || line[j] != '=' {
					return forwarded{}
				}
				name := line[i:j]
				val, escaped, next, ok := parseValue(line, j+1)
				if !ok {
					return forwarded{}
				}
				i = next
				pairs = true
				switch {
				case strings.EqualFold(name, "for"):
					if hasFor {
						return forwarded{}
					}
					hasFor, forVal, forEscaped = true, val, escaped
				case strings.EqualFold(name, "proto"):
					if hasProto {
						return forwarded{}
					}
					hasProto, protoVal, protoEscaped = true, val, escaped
				}
				// by=, host= and extensions are read past and not used.
				i = skipOWS(line, i)
				if i < len(line) && line[i] != ';' && line[i] != ',' {
					return forwarded{}
				}
			}
			if pairs {
				// An element without for= is a hop that did not say who
				// its client was: the walk cannot go past it. A quoted-pair
				// is never needed to spell an address (it escapes only '"'
				// and '\'), so an escaped value is not one.
				var a netip.Addr
				ok := false
				if hasFor && !forEscaped {
					a, ok = parseNode(forVal)
				}
				w.hop(a, ok)
				proto = ""
				if hasProto && !protoEscaped {
					proto = protoVal
				}
			}
			if i == len(line) {
				break
			}
			i++ // the ','
		}
	}
	return forwarded{addr: w.addr, proto: proto}
}

// parseValue reads a token or a quoted-string starting at line[i]. It
// returns the value (a quoted-string without its quotes, quoted-pairs left
// as they are), whether it had a quoted-pair, and the index after it.
func parseValue(line string, i int) (val string, escaped bool, next int, ok bool) {
	if i < len(line) && line[i] == '"' {
		for j := i + 1; j < len(line); j++ {
			switch c := line[j]; {
			case c == '"':
				return line[i+1 : j], escaped, j + 1, true
			case c == '\\':
				// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
				j++
				if j == len(line) || !isQuotedPairChar(line[j]) {
					return "", false, 0, false
				}
				escaped = true
			case !isQdtext(c):
				return "", false, 0, false
			}
		}
		return "", false, 0, false // unterminated
	}
	j := i
	for j < len(line) && isTchar(line[j]) {
		j++
	}
	if j == i {
		return "", false, 0, false // a value is required
	}
	return line[i:j], false, j, true
}

// parseNode parses a for= value, RFC 7239 §6:
//
//	node     = nodename [ ":" node-port ]
//	nodename = IPv4address / "[" IPv6address "]" / "unknown" / obfnode
//
// Only the IP forms are addresses; "unknown" and obfuscated names are not.
func parseNode(v string) (netip.Addr, bool) {
	var host, port string
	hasPort := false
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = v[1:end]
		if rest := v[end+1:]; rest != "" {
			if rest[0] != ':' {
				return netip.Addr{}, false
			}
			port, hasPort = rest[1:], true
		}
	} else {
		host = v
		if k := strings.IndexByte(v, ':'); k >= 0 {
			// A second colon lands in the port and fails there: a bare
			// IPv6 address is not valid here, as it would be ambiguous.
			host, port, hasPort = v[:k], v[k+1:], true
		}
	}
	if hasPort && !validNodePort(port) {
		return netip.Addr{}, false
	}
	if !addrChars(host) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	if bracketed := v[0] == '['; bracketed != a.Is6() {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// validNodePort: node-port = 1*5DIGIT / "_" 1*(ALPHA / DIGIT / "." / "_" / "-")
func validNodePort(p string) bool {
	if p == "" {
		return false
	}
	if p[0] == '_' {
		if len(p) == 1 {
			return false
		}
		for i := 1; i < len(p); i++ {
			c := p[i]
			if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
		return true
	}
	if len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isTchar: tchar of RFC 9110 §5.6.2.
func isTchar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isQdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.
func isQdtext(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (0x23 <= c && c <= 0x5B) || (0x5D <= c && c <= 0x7E) || c >= 0x80
}

// isQuotedPairChar: HTAB / SP / VCHAR / obs-text.
func isQuotedPairChar(c byte) bool {
	return c == '\t' || c == ' ' || (0x21 <= c && c <= 0x7E) || c >= 0x80
}

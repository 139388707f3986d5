package gateway

import (
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/wasmhost/wasmhost/abi"
)

// AppendEnviron encodes a request's environ (see docs/ABI.md and abi) onto
// buf. The plugin's fixed entries (name, version, worker, env) come
// pre-encoded in fixed, so the per-request work is only the request's own.
func AppendEnviron(buf []byte, r *http.Request, c *Client, scriptName, pathInfo string, requestID, fixed []byte) []byte {
	buf = abi.AppendPair(buf, abi.KeyRequestMethod, r.Method)
	buf = abi.AppendPair(buf, abi.KeyScriptName, scriptName)
	buf = abi.AppendPair(buf, abi.KeyPathInfo, pathInfo)
	buf = abi.AppendPair(buf, abi.KeyQueryString, r.URL.RawQuery)
	buf = abi.AppendPair(buf, abi.KeyRequestURI, r.RequestURI)
	buf = abi.AppendPair(buf, abi.KeyContentType, r.Header.Get("Content-Type"))
	buf = abi.AppendPair(buf, abi.KeyContentLength, contentLength(r))

	serverName, serverPort := serverAddr(r, c)
	buf = abi.AppendPair(buf, abi.KeyServerName, serverName)
	buf = abi.AppendPair(buf, abi.KeyServerPort, serverPort)
	buf = abi.AppendPair(buf, abi.KeyServerProtocol, r.Proto)
	buf = abi.AppendPair(buf, abi.KeyRemoteAddr, c.addr)
	buf = abi.AppendPair(buf, abi.KeyRemotePort, c.port)

	if r.Host != "" {
		buf = abi.AppendPair(buf, "HTTP_HOST", r.Host)
	}
	for name, values := range r.Header {
		// X-Forwarded-Prefix is the host's to set (below): a Client's own
		// would make a router build its redirects under any prefix it likes.
		if name == "Content-Type" || name == "Content-Length" || name == "Host" || name == forwardedPrefix {
			continue
		}
		// "X_Forwarded_For" would become the same key as "X-Forwarded-For":
		// a Client could then pass for the proxy. Drop such names, as nginx
		// and gunicorn do.
		if strings.IndexByte(name, '_') >= 0 {
			continue
		}
		buf = appendHeaderPair(buf, name, values)
	}

	if scriptName != "" {
		// The mount, as a proxy that strips a prefix says it (Traefik's
		// stripPrefix, nginx setups): routers such as gin put it in front
		// of the redirects they build from the stripped path.
		buf = abi.AppendPair(buf, forwardedPrefixKey, scriptName)
	}
	buf = abi.AppendPair(buf, abi.KeyURLScheme, c.scheme)
	buf = abi.AppendPair(buf, abi.KeyRequestID, string(requestID))
	return append(buf, fixed...)
}

const (
	forwardedPrefix    = "X-Forwarded-Prefix"
	forwardedPrefixKey = "HTTP_X_FORWARDED_PREFIX"
)

// appendHeaderPair encodes HTTP_<NAME> = the values joined with ", ",
// without building the key or the joined value as strings first.
func appendHeaderPair(buf []byte, name string, values []string) []byte {
	buf = appendLen(buf, len(abi.HeaderPrefix)+len(name))
	buf = append(buf, abi.HeaderPrefix...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		buf = append(buf, c)
	}
	n := 0
	for i, v := range values {
		if i > 0 {
			n += 2
		}
		n += len(v)
	}
	buf = appendLen(buf, n)
	for i, v := range values {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(buf, v...)
	}
	return buf
}

func appendLen(b []byte, n int) []byte {
	return append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
}

// contentLength is CONTENT_LENGTH: the length when the Client declared one,
// "" when the body is chunked or there is none.
func contentLength(r *http.Request) string {
	if r.ContentLength > 0 || (r.ContentLength == 0 && len(r.Header["Content-Length"]) > 0) {
		return strconv.FormatInt(r.ContentLength, 10)
	}
	return ""
}

// serverAddr is SERVER_NAME (the Host header's name, else the local address)
// and SERVER_PORT (the local port the request arrived on).
func serverAddr(r *http.Request, c *Client) (name, port string) {
	name = r.Host
	// Only a Host with a port is split: SplitHostPort's error for one
	// without (the usual "example.com") would be an allocation per request.
	if strings.LastIndexByte(name, ':') > strings.LastIndexByte(name, ']') {
		if h, _, err := net.SplitHostPort(name); err == nil {
			name = h
		}
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if name == "" {
		name = c.localHost
	}
	return name, c.localPort
}

// lastLocal remembers the strings of the last local address seen. A server
// has few local addresses, and formatting one is allocations per request.
var lastLocal atomic.Pointer[localAddr]

type localAddr struct {
	ip             net.IP
	port           int
	zone           string
	host, portText string
}

// localHostPort is splitHostPort(a.String()), from the cache when a is the
// TCP address formatted last.
func localHostPort(a net.Addr) (host, port string) {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return splitHostPort(a.String())
	}
	if c := lastLocal.Load(); c != nil && c.port == t.Port && c.zone == t.Zone && c.ip.Equal(t.IP) {
		return c.host, c.portText
	}
	host, port = splitHostPort(t.String())
	lastLocal.Store(&localAddr{ip: slices.Clone(t.IP), port: t.Port, zone: t.Zone, host: host, portText: port})
	return host, port
}

func splitHostPort(addr string) (host, port string) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, ""
	}
	return h, p
}

// FixedEnviron pre-encodes the entries that are the same for every request
// to one loaded plugin version.
func FixedEnviron(plugin, pluginVersion, engine string, workerID int, version string, env map[string]string) []byte {
	var buf []byte
	buf = abi.AppendPair(buf, abi.KeyPlugin, plugin)
	buf = abi.AppendPair(buf, abi.KeyPluginVersion, pluginVersion)
	buf = abi.AppendPair(buf, abi.KeyEngine, engine)
	buf = abi.AppendPair(buf, abi.KeyWorkerID, strconv.Itoa(workerID))
	buf = abi.AppendPair(buf, abi.KeyVersion, version)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		buf = abi.AppendPair(buf, k, env[k])
	}
	return buf
}

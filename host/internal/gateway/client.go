package gateway

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/xheaders"
)

// Client is who a request is from, after xheaders: what REMOTE_ADDR,
// REMOTE_PORT and wasmhost.url_scheme say, and what the access log shows.
type Client struct {
	addr   string // canonical IP
	port   string // the TCP peer's port; "" when the address came from a proxy's header
	scheme string // "http" or "https"
	logged string // addr:port, or addr alone

	// The local address the request arrived at, for SERVER_NAME (without a
	// Host header) and SERVER_PORT.
	localHost, localPort string
}

// ResolveClient applies server.xheaders for one request. Nothing is kept
// between requests: a later request on the same connection without the
// headers sees the peer again. What does not change from one request of a
// connection to the next (the peer's address parsed and formatted, the
// local address) comes from the connection's connInfo (ConnContext).
func ResolveClient(cfg *config.Server, r *http.Request) Client {
	ci := connInfoOf(r)
	tls := r.TLS != nil
	if ci.peerErr != nil {
		// Not an IP peer (a unix socket, a test harness): nothing to trust.
		scheme := "http"
		if tls {
			scheme = "https"
		}
		return Client{addr: r.RemoteAddr, scheme: scheme, logged: r.RemoteAddr, localHost: ci.localHost, localPort: ci.localPort}
	}
	peerAddr := ci.peer.Addr().Unmap()
	addr, scheme := xheaders.Resolve(peerAddr, r.Header, cfg.TrustedProxies, cfg.XHeaders, tls)
	c := ci.peerClient
	if addr != peerAddr {
		c = Client{addr: addr.String()}
		c.logged = c.addr
	}
	c.scheme = scheme
	c.localHost, c.localPort = ci.localHost, ci.localPort
	return c
}

// connInfo is what the requests of one connection share, worked out once
// when it is accepted (http.Server.ConnContext) rather than on every
// request: parsing and formatting the peer's address and the local one
// cost about 1 % of a hello's server CPU.
type connInfo struct {
	remote               string // the peer, as net/http writes it into RemoteAddr
	peer                 netip.AddrPort
	peerErr              error
	peerClient           Client // the peer as REMOTE_ADDR, REMOTE_PORT and the log show it (no scheme)
	localHost, localPort string
}

type connInfoKey struct{}

func newConnInfo(remote string, local net.Addr) *connInfo {
	ci := &connInfo{remote: remote}
	ci.peer, ci.peerErr = netip.ParseAddrPort(remote)
	if ci.peerErr == nil {
		addr, port := ci.peer.Addr().Unmap(), ci.peer.Port()
		ci.peerClient = Client{addr: addr.String(), port: strconv.Itoa(int(port)), logged: netip.AddrPortFrom(addr, port).String()}
	}
	if local != nil {
		ci.localHost, ci.localPort = localHostPort(local)
	}
	return ci
}

// ConnContext is the server's ConnContext (http.Server.ConnContext).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connInfoKey{}, newConnInfo(c.RemoteAddr().String(), c.LocalAddr()))
}

// connInfoOf is r's connection's connInfo, or one made from r itself for a
// request that did not come through the server's listener (a test's, or
// one whose RemoteAddr was rewritten).
func connInfoOf(r *http.Request) *connInfo {
	if ci, ok := r.Context().Value(connInfoKey{}).(*connInfo); ok && ci.remote == r.RemoteAddr {
		return ci
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return newConnInfo(r.RemoteAddr, local)
}

// Logged is the client as the access log shows it: addr:port, or the
// address alone when it came from a proxy's header.
func (c *Client) Logged() string { return c.logged }

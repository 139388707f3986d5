package host

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/xheaders"
)

// client is who a request is from, after xheaders: what REMOTE_ADDR,
// REMOTE_PORT and wasmhost.url_scheme say, and what the access log shows.
type client struct {
	addr   string // canonical IP
	port   string // the TCP peer's port; "" when the address came from a proxy's header
	scheme string // "http" or "https"
	logged string // addr:port, or addr alone
}

// peerAsGiven is the client straight from r.RemoteAddr, without formatting
// anything: the usual case (no proxy in front), where formatting the
// address, the port and both together would be three allocations per
// request. ok is false unless RemoteAddr is already canonical (net/http's
// always is; a 4in6 address or a test harness's may not be).
func peerAsGiven(remoteAddr string, addr netip.Addr, peerPort uint16, scheme string) (client, bool) {
	host, port, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return client{}, false
	}
	var buf [64]byte
	if string(addr.AppendTo(buf[:0])) != host ||
		string(strconv.AppendUint(buf[:0], uint64(peerPort), 10)) != port {
		return client{}, false
	}
	return client{addr: host, port: port, scheme: scheme, logged: remoteAddr}, true
}

// resolveClient applies server.xheaders for one request. Nothing is kept
// between requests: a later request on the same connection without the
// headers sees the peer again.
func (s *Server) resolveClient(cfg *config.Server, r *http.Request) client {
	tls := r.TLS != nil
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		// Not an IP peer (a unix socket, a test harness): nothing to trust.
		scheme := "http"
		if tls {
			scheme = "https"
		}
		return client{addr: r.RemoteAddr, scheme: scheme, logged: r.RemoteAddr}
	}
	peerAddr := peer.Addr().Unmap()
	addr, scheme := xheaders.Resolve(peerAddr, r.Header, cfg.TrustedProxies, cfg.XHeaders, tls)
	if addr == peerAddr {
		if c, ok := peerAsGiven(r.RemoteAddr, peerAddr, peer.Port(), scheme); ok {
			return c
		}
	}
	c := client{addr: addr.String(), scheme: scheme}
	if addr == peerAddr {
		c.port = strconv.Itoa(int(peer.Port()))
		c.logged = netip.AddrPortFrom(addr, peer.Port()).String()
	} else {
		c.logged = c.addr
	}
	return c
}

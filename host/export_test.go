package host

import (
	"net"
	"net/http"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/loader"
)

// OpenStores is the number of key-value stores s has open.
func OpenStores(s *Server) int { return s.stores.OpenCount() }

// SetStoreGrace makes a store left without a claim by a reload close after
// d instead of after the longest request timeout.
func SetStoreGrace(s *Server, d time.Duration) { s.storeGrace = d }

// AsAccepted is r with what the server attaches to the requests of a
// connection it accepted (its connInfo), so that a benchmark calling
// ServeHTTP directly measures the path a served request takes.
func AsAccepted(r *http.Request) *http.Request {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	return r.WithContext(gateway.ConnContext(r.Context(), acceptedConn{remote: textAddr(r.RemoteAddr), local: local}))
}

// acceptedConn is a connection as far as ConnContext looks at it.
type acceptedConn struct {
	net.Conn
	remote, local net.Addr
}

func (c acceptedConn) RemoteAddr() net.Addr { return c.remote }
func (c acceptedConn) LocalAddr() net.Addr  { return c.local }

// textAddr is an address that formats as RemoteAddr does.
type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }

// SiteOf is the Site of a configuration a test built (and may edit
// before serving it).
func SiteOf(c *config.Site) *Site { return &Site{cfg: c} }

// Plugin returns the loaded plugin with that name, or nil.
func (s *Server) Plugin(name string) *loader.Plugin {
	if mp := s.state.Load().plugin(name); mp != nil {
		return mp.current.Load().plugin
	}
	return nil
}

// PluginStats returns every plugin's counters, by name.
func (s *Server) PluginStats() map[string]loader.Stats {
	st := s.state.Load()
	m := make(map[string]loader.Stats, len(st.plugins))
	for _, mp := range st.plugins {
		m[mp.cfg.Name] = mp.stats()
	}
	return m
}

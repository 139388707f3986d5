package host

import (
	"context"
	"net"
	"net/http"
	"time"
)

// OpenStores is the number of key-value stores s has open.
func OpenStores(s *Server) int { return s.stores.openCount() }

// SetStoreGrace makes a store left without a claim by a reload close after
// d instead of after the longest request timeout.
func SetStoreGrace(s *Server, d time.Duration) { s.storeGraceForTests = d }

// AsAccepted is r with what the server attaches to the requests of a
// connection it accepted (its connInfo), so that a benchmark calling
// ServeHTTP directly measures the path a served request takes.
func AsAccepted(r *http.Request) *http.Request {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	return r.WithContext(context.WithValue(r.Context(), connInfoKey{}, newConnInfo(r.RemoteAddr, local)))
}

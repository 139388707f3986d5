package host

import "time"

// OpenStores is the number of key-value stores s has open.
func OpenStores(s *Server) int { return s.stores.openCount() }

// SetStoreGrace makes a store left without a claim by a reload close after
// d instead of after the longest request timeout.
func SetStoreGrace(s *Server, d time.Duration) { s.storeGraceForTests = d }

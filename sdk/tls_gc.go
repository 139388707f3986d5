//go:build !tinygo

package sdk

import "crypto/tls"

// terminatedTLS is r.TLS for a request that reached the host over HTTPS.
func terminatedTLS() *tls.ConnectionState {
	return &tls.ConnectionState{HandshakeComplete: true}
}

//go:build tinygo

package sdk

import "crypto/tls"

// terminatedTLS is r.TLS for a request that reached the host over HTTPS.
// TinyGo's crypto/tls has no HandshakeComplete field: a non-nil r.TLS is
// all a handler can check there.
func terminatedTLS() *tls.ConnectionState { return &tls.ConnectionState{} }

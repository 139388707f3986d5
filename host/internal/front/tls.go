package front

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// Certificate holds the server's TLS certificate, replaceable while
// serving: Load swaps it and new handshakes use the new one.
type Certificate struct {
	current atomic.Pointer[tls.Certificate]
}

// LoadCertificate reads a certificate and its key.
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{}
	if err := c.Load(certFile, keyFile); err != nil {
		return nil, err
	}
	return c, nil
}

// Load replaces the certificate; on error the old one stays in use.
func (c *Certificate) Load(certFile, keyFile string) error {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("tls: cert %s, key %s: %w", certFile, keyFile, err)
	}
	c.current.Store(&pair)
	return nil
}

// TLSConfig is Go's defaults (which are modern: TLS 1.2+, AEAD suites,
// X25519) with the certificate looked up per handshake. net/http adds
// "h2" to NextProtos, so clients that offer HTTP/2 get it.
func (c *Certificate) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

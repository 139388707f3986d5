package host

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// certificate holds the server's TLS certificate, replaceable while
// serving: ReloadTLS swaps it and new handshakes use the new one.
type certificate struct {
	cert, key string
	current   atomic.Pointer[tls.Certificate]
}

func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{cert: certFile, key: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certificate) reload() error {
	pair, err := tls.LoadX509KeyPair(c.cert, c.key)
	if err != nil {
		return fmt.Errorf("tls: cert %s, key %s: %w", c.cert, c.key, err)
	}
	c.current.Store(&pair)
	return nil
}

// tlsConfig is Go's defaults (which are modern: TLS 1.2+, AEAD suites,
// X25519) with the certificate looked up per handshake. net/http adds
// "h2" to NextProtos, so clients that offer HTTP/2 get it.
func (c *certificate) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

// ReloadTLS rereads the certificate and key files (on SIGHUP). On error
// the old certificate stays in use.
func (s *Server) ReloadTLS() error {
	if s.cert == nil {
		return nil
	}
	return s.cert.reload()
}

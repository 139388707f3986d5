package host

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
)

// certificate holds the server's TLS certificate, replaceable while
// serving: ReloadTLS swaps it and new handshakes use the new one.
type certificate struct {
	current atomic.Pointer[tls.Certificate]
}

func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{}
	if err := c.load(certFile, keyFile); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certificate) load(certFile, keyFile string) error {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("tls: cert %s, key %s: %w", certFile, keyFile, err)
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

// ReloadTLS reads the certificate and key files the current site names
// (on SIGHUP, after Reload: a tls block whose cert or key changed takes
// effect). On error the old certificate stays in use. Adding or removing
// the tls block needs a restart, since it changes what the listeners speak.
func (s *Server) ReloadTLS() error {
	if s.cert == nil {
		return nil
	}
	t := s.state.Load().site.Server.TLS
	if t == nil {
		return errors.New("tls: the tls block was removed; the listeners keep serving TLS until a restart")
	}
	return s.cert.load(t.Cert, t.Key)
}

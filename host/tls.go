package host

import "errors"

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
	return s.cert.Load(t.Cert, t.Key)
}

package host

import (
	"time"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/cookies"
)

// Signed cookies (host/internal/cookies): the secret lives only in the
// site's settings, read here; guests ask for signatures and checks through
// host calls, each in the cookie_scope of the plugin that asks.

// signCookie and verifyCookie work in scope, the cookie_scope of the
// plugin whose guest asks.
func (s *Server) signCookie(scope, name, value string) (string, int32) {
	cfg := &s.state.Load().site.Server
	switch {
	case cfg.CookieSecret == "":
		return "", abi.ErrUnavailable
	case scope == "":
		// An exchange that did not say whose it is: refused, so that two
		// such callers never share a scope by accident.
		return "", abi.ErrState
	}
	return cookies.Sign(cfg.CookieSecret.Reveal(), scope, name, value, time.Now()), 0
}

func (s *Server) verifyCookie(scope, name, signed string) (string, int32) {
	cfg := &s.state.Load().site.Server
	switch {
	case cfg.CookieSecret == "":
		return "", abi.ErrUnavailable
	case scope == "":
		return "", abi.ErrState
	}
	v, ok := cookies.Verify([]string{cfg.CookieSecret.Reveal(), cfg.CookieSecretPrev.Reveal()}, scope, name, signed, cfg.CookieMaxAge, time.Now())
	if !ok {
		return "", abi.ErrInvalid
	}
	return v, 0
}

package host

import (
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/config"
)

// TestCookiesNeedAScope: an exchange that sets no scope (a new kind of
// exchange that forgot to) gets an error, never a scope shared with every
// other such exchange.
func TestCookiesNeedAScope(t *testing.T) {
	st := &siteState{site: &config.Site{}}
	st.site.Server.CookieSecret = "current-secret-0123456789"
	st.site.Server.CookieMaxAge = time.Hour
	s := &Server{}
	s.state.Store(st)
	if v, rc := s.signCookie("", "user", "admin"); rc != abi.ErrState {
		t.Errorf("signing without a scope: %q %d, want ErrState", v, rc)
	}
	signed, rc := s.signCookie("a", "user", "alice")
	if rc != 0 {
		t.Fatal(rc)
	}
	if v, rc := s.verifyCookie("", "user", signed); rc != abi.ErrState {
		t.Errorf("verifying without a scope: %q %d, want ErrState", v, rc)
	}
	if v, rc := s.verifyCookie("a", "user", signed); rc != 0 || v != "alice" {
		t.Errorf("verifying in the scope: %q %d", v, rc)
	}
}

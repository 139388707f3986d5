// Command auth is an authentication middleware: a request needs
// "Authorization: Bearer <AUTH_TOKEN>" (AUTH_TOKEN from the plugin's env in
// site.hcl), or the signed session cookie a request with the token was
// given, or it is answered 401 here and never reaches the plugins behind
// it. An accepted request goes on without its Authorization header, with
// X-User naming who it is, the convention for passing data downstream.
//
// The session cookie is signed by the host (sdk.SetSecureCookie) in the
// plugin's cookie_scope: only plugins of that scope accept it, and no
// plugin outside it can mint one this middleware believes. An app behind
// it that reads the session itself (sdk.SecureCookie(r, "session")) is
// given the same cookie_scope in site.hcl, on purpose.
package main

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"os"
	"strings"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	token := os.Getenv("AUTH_TOKEN")
	user := os.Getenv("AUTH_USER")
	if user == "" {
		user = "token-holder"
	}
	sdk.HandleMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Whatever a client says about itself is not to be trusted.
			r.Header.Del("X-User")
			who, err := sdk.SecureCookie(r, "session")
			if err != nil {
				got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
					w.Header().Set("WWW-Authenticate", `Bearer realm="wasmhost"`)
					http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
					return
				}
				who = user
				// A site without cookie_secret has no sessions: the token
				// is needed on every request.
				if err := sdk.SetSecureCookie(w, "session", who); err != nil && !errors.Is(err, sdk.ErrNoCookieSecret) {
					http.Error(w, "500 session: "+err.Error(), http.StatusInternalServerError)
					return
				}
			}
			r.Header.Del("Authorization") // the secret goes no further
			r.Header.Set("X-User", who)
			next.ServeHTTP(w, r)
		})
	})
}

func main() {}

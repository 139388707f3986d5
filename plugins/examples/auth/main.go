// Command auth is an authentication middleware: a request needs
// "Authorization: Bearer <AUTH_TOKEN>" (AUTH_TOKEN from the plugin's env in
// site.hcl) or it is answered 401 here and never reaches the plugins behind
// it. An accepted request goes on without its Authorization header, with
// X-User naming who it is, the convention for passing data downstream.
package main

import (
	"crypto/subtle"
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
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wasmhost"`)
				http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
				return
			}
			r.Header.Del("Authorization") // the secret goes no further
			r.Header.Set("X-User", user)
			next.ServeHTTP(w, r)
		})
	})
}

func main() {}

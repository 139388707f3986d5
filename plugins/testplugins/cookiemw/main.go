// Command cookiemw is a session middleware for the signed-cookie tests:
// /mw/set?name=N&value=V signs a cookie and answers "mw set", /mw/get?name=N
// answers the value it verifies (403 with the error otherwise), both
// without calling the rest of the chain; any other request goes on.
package main

import (
	"io"
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.HandleMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			switch r.URL.Path {
			case "/mw/set":
				if err := sdk.SetSecureCookie(w, q.Get("name"), q.Get("value")); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				io.WriteString(w, "mw set\n")
			case "/mw/get":
				v, err := sdk.SecureCookie(r, q.Get("name"))
				if err != nil {
					http.Error(w, err.Error(), http.StatusForbidden)
					return
				}
				io.WriteString(w, v)
			default:
				next.ServeHTTP(w, r)
			}
		})
	})
}

func main() {}

// Command cookie is the textbook WSGI cookie middleware as a wasmhost
// middleware: every answer of the plugins behind it gets a Set-Cookie, and
// the request it passes on carries X-Cookie-Middleware, which is how a
// middleware hands data downstream (the plugin behind it sees it as
// HTTP_X_COOKIE_MIDDLEWARE in its environ).
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.HandleMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Headers set before calling next are kept on the answer.
			http.SetCookie(w, &http.Cookie{Name: "stupid", Value: "cookie", Path: "/"})
			// A client may send this header itself: the middleware's word
			// must replace it, never add to it.
			r.Header.Set("X-Cookie-Middleware", "seen")
			next.ServeHTTP(w, r)
		})
	})
}

func main() {}

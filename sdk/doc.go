// Package sdk turns a plain net/http handler into a wasmhost plugin.
//
// A plugin is a Go package main that registers one handler in init and has
// an empty main:
//
//	package main
//
//	import (
//		"net/http"
//
//		"github.com/wasmhost/wasmhost/sdk"
//	)
//
//	func init() {
//		sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			w.Write([]byte("Hello, world\n"))
//		}))
//	}
//
//	func main() {}
//
// Build it with
//
//	wasmhost build ./hello            # writes hello/hello.wasm
//	wasmhost build --tinygo ./hello   # the same with TinyGo 0.34+
//
// which runs `go build -buildmode=c-shared` with GOOS=wasip1 GOARCH=wasm
// (or `tinygo build -target=wasip1 -buildmode=c-shared -scheduler=none`:
// no goroutines in a TinyGo plugin unless another scheduler is asked for),
// then mount the .wasm in site.hcl. `wasmhost new NAME` starts a module
// that does all this.
//
// This package is a module of its own, standard library only, with a go
// directive TinyGo 0.34 accepts; its version follows the ABI it speaks
// (v1.<ABI minor>.x), so requiring it pulls in nothing of the host.
//
// # The request
//
// Each request arrives as a CGI/WSGI-style environ, from which the SDK builds
// an ordinary *http.Request:
//
//   - r.URL.Path is PATH_INFO: the path below the plugin's mount, as after
//     http.StripPrefix (a plugin mounted at "/api" sees "/users" for
//     "/api/users", and "" for "/api" itself). r.URL.RawQuery is
//     QUERY_STRING; r.RequestURI is the original request-target, mount
//     included. Under a mount, r.Header has X-Forwarded-Prefix: the mount,
//     set by the host (a client's own is replaced), as a proxy that strips
//     a prefix sends it; routers that honour it (gin) build their
//     redirects with it. At "/" there is none.
//   - r.Host is the Host header; r.RemoteAddr is "REMOTE_ADDR:REMOTE_PORT";
//     r.TLS is non-nil when the client connected over HTTPS (after the
//     server's xheaders handling), but only HandshakeComplete is set (and
//     not even that with TinyGo, whose crypto/tls lacks the field): the
//     host does not pass the TLS details on.
//   - r.Body streams: each Read asks the host for more, straight into the
//     caller's slice. A body larger than the server's max_body_size fails
//     with ErrBodyTooLarge, which errors.As also matches as
//     *http.MaxBytesError, as if http.MaxBytesReader had been used.
//   - Environ(r) returns the raw environ, wasmhost.* keys included.
//
// # The response
//
// A Location header that is an absolute path ("/notes/") gets the mount in
// front ("/api/notes/"), because what a handler, http.Redirect or a
// ServeMux builds from r.URL.Path lacks it. Left as written: a Location
// that begins with the mount already ("/api", "/api/..."), an absolute or
// scheme-relative URL, and a relative reference. To send a client
// elsewhere on the site, outside the plugin's mount, give a full URL.
//
// The http.ResponseWriter behaves like net/http's: the first Write implies
// WriteHeader(200), a missing Content-Type is sniffed from the first bytes
// written, later WriteHeader calls are ignored, and 1xx codes are ignored
// (the ABI cannot send informational responses).
//
// Output is buffered in the plugin and handed to the host in large pieces.
// A response that is never flushed is sent when the handler returns, with a
// Content-Length the host computes. Calling Flush (w.(http.Flusher), or
// http.NewResponseController(w).Flush with standard Go only: TinyGo 0.34's
// net/http lacks NewResponseController) sends everything written so far at
// once; the rest of that response is then streamed (chunked in HTTP/1.1).
// Both bodies can be streamed at the same time, so a handler can echo a
// large upload in constant memory.
//
// Once the client has gone away, Write and Flush return ErrClientGone
// (and r.Body.Read, once what arrived is read), and r.Context() is done,
// with context.Canceled: stop producing output when they do, and return.
// The plugin learns it from its next call into the host, so a handler
// blocked in a loop without writing cannot; the host gives it one second
// to return, its defers included, and stops it after that. A handler
// that returns in time keeps its instance warm for the next request; so
// does one that stops with panic(http.ErrAbortHandler) after
// ErrClientGone. Store and outbound calls still work during that second.
//
// # The bare gateway
//
// For the hottest endpoints, HandleGateway registers a func(*Gateway)
// instead of an http.Handler: the request as it crosses the ABI, with
// nothing built on top (no map, no *http.Request, no response buffering):
//
//	sdk.HandleGateway(func(g *sdk.Gateway) {
//		g.StartResponse(200, "Content-Type", "text/plain")
//		g.Write([]byte("Hello, " + g.Getenv("PATH_INFO")))
//	})
//
// Each Write is one host call, so write in large pieces. A hello costs three
// host calls and none of the net/http setup; use it where the guest's share
// of a request matters, and net/http everywhere else.
//
// # Middleware
//
// A plugin may instead be a middleware, registered with HandleMiddleware in
// Go's own shape, func(next http.Handler) http.Handler, and named in
// other plugins' middleware lists in site.hcl. next.ServeHTTP runs the rest
// of the chain in other instances of other plugins, with r as the
// middleware changed it, and relays their answer through w as it comes:
// WriteHeader, each Write, each Flush. Pass data downstream in request
// headers of your own (X-User), set or deleted, never only added. When the
// client goes away, next.ServeHTTP returns (with r.Context() done and w's
// writes failing with ErrClientGone), so the middleware's code after it
// and its defers run; a downstream that failed after its answer began
// makes next panic with http.ErrAbortHandler, which breaks the response.
//
// # Signed cookies and XSRF
//
// SetSecureCookie and SecureCookie sign and verify cookie values with the
// site's cookie_secret, which only the host holds; XSRFToken gives the
// token the built-in "xsrf" middleware checks, for a form's hidden _xsrf
// field.
//
// # Concurrency
//
// A plugin instance serves one request at a time; the host runs several
// instances for concurrency. So package-level state is per instance, not
// shared between requests served in parallel, and it may be reused: keeping
// buffers in package variables is a good way to avoid garbage.
//
// Goroutines a handler starts do not run once it has returned: the
// instance only executes while the host is calling into it. They resume
// while a later request on the same instance blocks (in time.Sleep, say),
// and their output is then logged as that request's, which is never what
// you want. Finish all work before returning.
//
// # Testing natively
//
// The package also compiles for the machine you develop on. There Handle
// just stores the handler and Handler returns it, so a plugin's handler can
// be tested with net/http/httptest:
//
//	rec := httptest.NewRecorder()
//	sdk.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
//
// Environ then synthesises the environ from the *http.Request, with
// wasmhost.* values set to "native". For a gateway handler, Handler returns
// an adapter that runs it under net/http with that synthesised environ. A
// middleware is tested around a handler of the test's own, with
// Middleware()(handler); signed cookies round-trip under a key made for the
// process; XSRFToken is "".
package sdk

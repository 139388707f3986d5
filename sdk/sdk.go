package sdk

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/wasmhost/wasmhost/abi"
)

// registered is the handler every request goes to. A plain variable is
// enough: it is set during init and an instance runs one request at a time.
var registered http.Handler

// Handle registers h as the plugin's handler. Call it from an init function;
// a later call replaces the handler.
func Handle(h http.Handler) {
	if h == nil {
		panic("sdk: Handle called with a nil handler")
	}
	registered, registeredGateway = h, nil
	kind, middleware = abi.KindHandler, nil // the last registration decides
}

// Handler returns the handler registered with Handle, or nil if there is
// none. Native tests use it to drive the plugin's handler with httptest.
// For a handler registered with HandleGateway it returns an adapter that
// runs it under net/http, with the environ synthesised as Environ does.
func Handler() http.Handler {
	if f := registeredGateway; f != nil {
		return gatewayHandler(f)
	}
	return registered
}

// ErrClientGone is returned by Write and Flush once the host has reported
// that the client went away (or the request was cancelled). Nothing more
// will reach the client; the handler should stop and return, within the
// second the host allows it. Body reads report it too, and the request's
// context is done from then on.
var ErrClientGone = errors.New("wasmhost: client connection closed")

// ErrBodyTooLarge is returned by r.Body.Read when the request body exceeds
// the server's max_body_size. errors.As also matches it as
// *http.MaxBytesError, so code written for http.MaxBytesReader works
// unchanged; that error's Limit is 0 because the plugin is not told the
// server's limit.
var ErrBodyTooLarge error = bodyTooLargeError{}

type bodyTooLargeError struct{}

func (bodyTooLargeError) Error() string { return "wasmhost: " + abi.ErrnoString(abi.ErrBodyTooLarge) }

func (bodyTooLargeError) As(target any) bool {
	if p, ok := target.(**http.MaxBytesError); ok {
		*p = &http.MaxBytesError{}
		return true
	}
	return false
}

// hostErr is an Errno without a more specific Go error.
type hostErr int32

func (e hostErr) Error() string { return "wasmhost: " + abi.ErrnoString(int32(e)) }

// errnoError maps a negative host result to the error handlers see.
func errnoError(errno int32) error {
	switch errno {
	case abi.ErrClosed:
		return ErrClientGone
	case abi.ErrBodyTooLarge:
		return ErrBodyTooLarge
	case abi.ErrLength:
		return http.ErrContentLength
	}
	return hostErr(errno)
}

// environKey is the request context key under which the environ is kept.
type environKey struct{}

// Environ returns the request's environ: CGI / PEP 3333 keys (REQUEST_METHOD,
// SCRIPT_NAME, PATH_INFO, HTTP_USER_AGENT, ...) and wasmhost.* keys
// (wasmhost.url_scheme, wasmhost.plugin, wasmhost.request_id, ...), plus the
// plugin's env from site.hcl. The map is the request's own; do not modify it.
//
// For a request that did not come from the host, as in a native test, the
// environ is synthesised from r on each call, as faithfully as r allows,
// with "native" as the value of wasmhost.plugin, wasmhost.plugin_version,
// wasmhost.worker_id, wasmhost.request_id and wasmhost.version.
func Environ(r *http.Request) map[string]string {
	if c, ok := r.Context().Value(environKey{}).(*environContext); ok {
		return c.environ()
	}
	return synthesizeEnviron(r)
}

func synthesizeEnviron(r *http.Request) map[string]string {
	env := make(map[string]string, 24+len(r.Header))
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	env[abi.KeyRequestMethod] = method
	env[abi.KeyScriptName] = ""
	env[abi.KeyPathInfo] = r.URL.Path
	env[abi.KeyQueryString] = r.URL.RawQuery
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	env[abi.KeyRequestURI] = uri
	env[abi.KeyContentType] = r.Header.Get("Content-Type")
	cl := r.Header.Get("Content-Length")
	if cl == "" && r.ContentLength > 0 {
		cl = strconv.FormatInt(r.ContentLength, 10)
	}
	env[abi.KeyContentLength] = cl

	scheme, port := "http", "80"
	if r.TLS != nil {
		scheme, port = "https", "443"
	}
	name := r.Host
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		name, port = h, p
	}
	env[abi.KeyServerName] = name
	env[abi.KeyServerPort] = port
	proto := r.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	env[abi.KeyServerProtocol] = proto
	addr, rport := r.RemoteAddr, ""
	if h, p, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		addr, rport = h, p
	}
	env[abi.KeyRemoteAddr] = addr
	env[abi.KeyRemotePort] = rport

	for k, vs := range r.Header {
		if k == "Content-Type" || k == "Content-Length" {
			continue
		}
		key := abi.HeaderPrefix + strings.ReplaceAll(strings.ToUpper(k), "-", "_")
		env[key] = strings.Join(vs, ", ")
	}
	if r.Host != "" {
		env[abi.HeaderPrefix+"HOST"] = r.Host
	}

	env[abi.KeyURLScheme] = scheme
	for _, k := range []string{abi.KeyPlugin, abi.KeyPluginVersion, abi.KeyWorkerID, abi.KeyRequestID, abi.KeyVersion} {
		env[k] = "native"
	}
	return env
}

// StaticURL returns the URL of a file in the site's static folder, for use
// in generated pages: "/static/css/site.css?v=<hash>" for "css/site.css".
// The host computes it, from the file's current content and the site's
// url_prefix, so a page and the static handler always agree and a changed
// file gets a new URL at once. Browsers may cache a versioned URL for good.
//
// A missing file gives the URL without ?v= (and a warning in the host's
// log). Outside a request (in init, or natively) there is no host to ask,
// and StaticURL returns "/static/" + path, unversioned.
func StaticURL(path string) string {
	path = strings.TrimLeft(path, "/")
	if url, ok := staticURL(path); ok {
		return url
	}
	return "/static/" + path
}

// Logf writes a message to the host's log at info level, attributed to the
// plugin and the current request. Anything written to os.Stdout or
// os.Stderr also ends up in the host's log, line by line.
func Logf(format string, args ...any) {
	logMessage(abi.LogInfo, fmt.Sprintf(format, args...))
}

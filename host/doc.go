// Package host serves a site: the plugins that site.hcl names, each a
// WebAssembly module handling HTTP requests, mounted at URL prefixes,
// behind one HTTP server (with TLS when the site has a tls block), with
// the site's static files and signed cookies.
//
// A request goes to the plugin with the longest mount that is a prefix of
// its path on a segment boundary, through that plugin's middleware list
// (other plugins, or the built-ins gzip and xsrf) when it has one. Each
// plugin keeps a pool of warm instances; a request borrows one for the
// guest call and gives it back.
//
// Plugins are swapped while serving. A new version of a plugin's file is
// loaded, checked and given one initialized instance off the request path,
// then takes the new requests at once; the requests in flight finish on
// the old version, which closes once drained. A version that does not load
// is refused and the old one keeps serving. With autoreload a plugin is
// swapped when its file changes; ReloadPlugin does it on demand.
//
// Reload applies a new version of the whole site in the same way: plugins
// whose blocks did not change keep serving (and are swapped if their file
// changed), new and changed ones are loaded, removed ones drain and close,
// and routes, chains and static settings apply to the next request. If any
// plugin fails to load, nothing changes. The listeners' settings (listen,
// tls, processes, the HTTP timeouts) apply only at a restart.
//
// A Server is built by New from Options, whose Site comes from LoadSite
// (cmd/wasmhost also applies its command line to it). Serve accepts
// connections until Shutdown, which drains the requests in flight.
package host

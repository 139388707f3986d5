// Package builtins names the middleware the host implements itself. A
// site's middleware lists may name them like plugins, and no plugin may
// take their names: internal/config checks site.hcl against this list, and
// the host's chain engine builds each of them from it, so the two cannot
// disagree about which built-ins exist.
//
// A built-in has no settings of its own in site.hcl; what it does is fixed
// (see the host's chain engine for each one).
package builtins

import "slices"

// The built-in middleware.
const (
	// Gzip compresses text-like responses for clients that accept gzip
	// (Tornado's compress_response).
	Gzip = "gzip"
	// XSRF sets an XSRF cookie and refuses unsafe requests that do not
	// send its token back (Tornado's xsrf_cookies).
	XSRF = "xsrf"
)

// Names lists every built-in, in the order messages show them.
var Names = []string{Gzip, XSRF}

// Is reports whether name is a built-in middleware.
func Is(name string) bool { return slices.Contains(Names, name) }

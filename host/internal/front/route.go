package front

import (
	"net/http"
	"sort"
	"strings"

	"github.com/wasmhost/wasmhost/host/internal/chain"
)

// Route is one mounted plugin.
type Route struct {
	Mount  string // "/" or a path without a trailing slash, e.g. "/env"; "" for a plugin used only in chains
	Plugin Plugin
	Chain  *chain.Chain // the plugin's middleware; nil without
}

// Routes is an immutable routing table, replaced whole on reload so a
// request sees one consistent table without locks.
type Routes struct {
	byLength []Route // longest mount first
}

// NewRoutes is the table of rs.
func NewRoutes(rs []Route) *Routes {
	var sorted []Route
	for _, r := range rs {
		if r.Mount != "" { // "": a plugin used only in chains
			sorted = append(sorted, r)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return len(sorted[i].Mount) > len(sorted[j].Mount) })
	return &Routes{byLength: sorted}
}

// match finds the plugin for a (decoded) path by longest mount prefix on
// path-segment boundaries: "/env" serves "/env" and "/env/x" but not
// "/envelope". It returns the CGI split of the path: SCRIPT_NAME is the
// mount ("" for "/") and PATH_INFO the rest.
func (t *Routes) match(path string) (r *Route, scriptName, pathInfo string) {
	for i := range t.byLength {
		m := t.byLength[i].Mount
		if m == "/" {
			return &t.byLength[i], "", path
		}
		if strings.HasPrefix(path, m) && (len(path) == len(m) || path[len(m)] == '/') {
			return &t.byLength[i], m, path[len(m):]
		}
	}
	return nil, "", ""
}

// webSocketRefusal is the answer to a WebSocket upgrade on the mount of
// a plugin without a websocket block: the host holds WebSockets only for
// plugins that ask for it, and the client should be told why rather than
// get a bare 501.
const webSocketRefusal = "501 Not Implemented: this plugin does not support WebSockets: its plugin " +
	"block in site.hcl has no websocket { } block, so the host accepts no upgrade on its mount."

// isWebSocketUpgrade reports a request asking to switch to the WebSocket
// protocol (RFC 6455: Upgrade: websocket, with Connection: upgrade).
func isWebSocketUpgrade(r *http.Request) bool {
	up := r.Header["Upgrade"]
	if len(up) == 0 {
		return false
	}
	for _, v := range up {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "websocket") {
				return true
			}
		}
	}
	return false
}

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

// webSocketRefusal is the answer to a WebSocket upgrade. A plugin cannot
// take over its connection: the gateway ABI carries one request and one
// response, a 101 cannot cross it, and the SDK's ResponseWriter is no
// http.Hijacker. A guest's WebSocket library answered such a request with
// a bare "501 Not Implemented" (coder/websocket) or a 500, the reason in
// the log only; the client should be told why.
const webSocketRefusal = "501 Not Implemented: wasmhost does not support WebSockets yet: a plugin " +
	"cannot take over its connection (one request, one response). Serve WebSockets from another " +
	"server behind the same proxy, or use server-sent events or polling."

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

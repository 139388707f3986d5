package host

import (
	"sort"
	"strings"
)

// route is one mounted plugin.
type route struct {
	mount  string // "/" or a path without a trailing slash, e.g. "/env"
	plugin *mountedPlugin
}

// routes is an immutable routing table, replaced whole on reload so a
// request sees one consistent table without locks.
type routes struct {
	byLength []route // longest mount first
}

func newRoutes(rs []route) *routes {
	var sorted []route
	for _, r := range rs {
		if r.mount != "" { // "": a plugin used only in chains
			sorted = append(sorted, r)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return len(sorted[i].mount) > len(sorted[j].mount) })
	return &routes{byLength: sorted}
}

// match finds the plugin for a (decoded) path by longest mount prefix on
// path-segment boundaries: "/env" serves "/env" and "/env/x" but not
// "/envelope". It returns the CGI split of the path: SCRIPT_NAME is the
// mount ("" for "/") and PATH_INFO the rest.
func (t *routes) match(path string) (r *route, scriptName, pathInfo string) {
	for i := range t.byLength {
		m := t.byLength[i].mount
		if m == "/" {
			return &t.byLength[i], "", path
		}
		if strings.HasPrefix(path, m) && (len(path) == len(m) || path[len(m)] == '/') {
			return &t.byLength[i], m, path[len(m):]
		}
	}
	return nil, "", ""
}

package front

import "testing"

// namedPlugin is a Plugin that only has a name.
type namedPlugin struct {
	Plugin
	name string
}

func (p namedPlugin) Name() string { return p.name }

// TestRoutesMatch: the longest mount wins, on path-segment boundaries, with
// CGI's split of the path; a plugin used only in chains is not routed.
func TestRoutesMatch(t *testing.T) {
	rs := NewRoutes([]Route{
		{Mount: "/", Plugin: namedPlugin{name: "root"}},
		{Mount: "/env", Plugin: namedPlugin{name: "env"}},
		{Mount: "/env/deep", Plugin: namedPlugin{name: "deep"}},
		{Mount: "", Plugin: namedPlugin{name: "chain-only"}},
	})
	for _, c := range []struct{ path, plugin, script, info string }{
		{"/", "root", "", "/"},
		{"/envelope", "root", "", "/envelope"},
		{"/env", "env", "/env", ""},
		{"/env/x", "env", "/env", "/x"},
		{"/env/deep/y", "deep", "/env/deep", "/y"},
		{"/env/deeper", "env", "/env", "/deeper"},
	} {
		rt, script, info := rs.match(c.path)
		if rt == nil || rt.Plugin.Name() != c.plugin || script != c.script || info != c.info {
			t.Errorf("%s: %v %q %q, want %s %q %q", c.path, rt, script, info, c.plugin, c.script, c.info)
		}
	}
	if rt, _, _ := NewRoutes([]Route{{Mount: "/a", Plugin: namedPlugin{name: "a"}}}).match("/b"); rt != nil {
		t.Errorf("/b matched %v without a root mount", rt.Plugin.Name())
	}
}

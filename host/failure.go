package host

// A plugin whose source does not compile (debug, plugin source) keeps its
// route, and its requests get a 500 page with the compiler's messages
// rather than the last version that built: what the author sees in the
// browser is the state of the code in the editor (host/internal/front
// writes the page). The log has the same messages, once per failed build.

// SetPluginFailure makes the plugin's requests answer 500 with msg (the
// compiler's output, say), or, with msg "", serve again. It reports
// whether a plugin of that name exists.
func (s *Server) SetPluginFailure(name, msg string) bool {
	mp := s.state.Load().plugin(name)
	if mp == nil {
		return false
	}
	if msg == "" {
		mp.failure.Store(nil)
	} else {
		mp.failure.Store(&msg)
	}
	return true
}

// serving is the version to serve a request with, or why there is none.
// The version and the verdict come from one load of current: checked
// apart, a version that loads between the two would pass the check with
// the unloaded one in hand, whose nil plugin a chain's downstream
// goroutine, which net/http does not recover, would then call.
func (mp *mountedPlugin) serving() (*loadedVersion, string, bool) {
	lv := mp.current.Load()
	if f := mp.failure.Load(); f != nil {
		return lv, *f, true
	}
	if lv.plugin == nil {
		if e := mp.lastError.Load(); e != nil {
			return lv, *e, true
		}
		return lv, "the plugin has not loaded", true
	}
	return lv, "", false
}

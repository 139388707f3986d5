package host

import (
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/gateway"
)

// A plugin whose source does not compile (debug, plugin source) keeps its
// route, and its requests get a 500 page with the compiler's messages
// rather than the last version that built: what the author sees in the
// browser is the state of the code in the editor. The log has the same
// messages, once per failed build.

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

// serveFailure writes the failure page: HTML for browsers, text otherwise.
func (s *Server) serveFailure(w http.ResponseWriter, r *http.Request, c *gateway.Client, start time.Time, name, msg string) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	title := "500 Internal Server Error: plugin " + name + " cannot serve"
	var page string
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		h.Set("Content-Type", "text/html; charset=utf-8")
		page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(title) +
			"</title></head>\n<body><h1>" + html.EscapeString(title) + "</h1>\n<pre>" + html.EscapeString(msg) +
			"</pre>\n<p>Fix the source: the plugin is rebuilt and served again without a restart.</p></body></html>\n"
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		page = title + "\n\n" + msg + "\n"
	}
	w.WriteHeader(http.StatusInternalServerError)
	n, _ := w.Write([]byte(page))
	s.logAccess(r, c, http.StatusInternalServerError, int64(n), start, name)
}

// unavailable says whether the plugin cannot serve, and why: its source
// does not compile (SetPluginFailure), or it has not loaded since a debug
// start (its load error).
func (mp *mountedPlugin) unavailable() (string, bool) {
	_, msg, down := mp.serving()
	return msg, down
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

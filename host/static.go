package host

import (
	"strings"
	"sync/atomic"

	"github.com/wasmhost/wasmhost/static"
)

func (s *Server) newStatic(st *siteState) error {
	cfg := st.site.Static
	if cfg == nil {
		return nil
	}
	h, err := static.New(static.Config{
		Root:      cfg.Path,
		URLPrefix: cfg.URLPrefix,
		HashCache: cfg.HashCache,
		RootFiles: cfg.RootFiles,
		Logger:    s.log.Named("static"),
	})
	if err != nil {
		return err
	}
	st.static = h
	return nil
}

var warnedNoStatic atomic.Bool

// staticURL is sdk.StaticURL's answer: the versioned URL, or without a
// static block, the unversioned one under the default prefix.
func (s *Server) staticURL(path string) string {
	if h := s.state.Load().static; h != nil {
		return h.URL(path)
	}
	if warnedNoStatic.CompareAndSwap(false, true) {
		s.log.Warn("a plugin asked for a static URL, but site.hcl has no static block", "path", path)
	}
	return "/static/" + strings.TrimLeft(path, "/")
}

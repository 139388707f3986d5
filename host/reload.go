package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/front"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/hostconfig"
	"github.com/wasmhost/wasmhost/loader"
)

// Hot swap. A plugin's new version is compiled, validated and given one
// initialized instance (loader.Load) off the request path; only then does
// one atomic store make new requests use it. Requests in flight finish on
// the old version, whose pool closes its instances as they come back and
// closes its runtime after the last. A version that fails to load is never
// switched to: the old one keeps serving, and the error is kept for /status.

// watchDebounce is how long a file must be quiet before it is reloaded:
// long enough to let a build or a copy finish, short enough to feel instant.
const watchDebounce = 50 * time.Millisecond

// SwapResult says what a reload of one plugin did.
type SwapResult struct {
	Plugin  string `json:"plugin"`
	Version string `json:"version"` // serving now
	Swapped bool   `json:"swapped"` // false when the file was unchanged or the new version was refused
	Error   string `json:"error,omitempty"`
	TookMS  int64  `json:"took_ms"`
}

// ReloadPlugin rereads a plugin's file and swaps it in if it changed.
func (s *Server) ReloadPlugin(name string) (SwapResult, error) {
	mp := s.state.Load().plugin(name)
	if mp == nil {
		return SwapResult{Plugin: name}, fmt.Errorf("no plugin named %q", name)
	}
	return s.swap(mp, "reload requested"), nil
}

// swap loads the plugin's file again and, if its content changed and it
// loads, makes it the serving version.
func (s *Server) swap(mp *mountedPlugin, reason string) SwapResult {
	mp.swapMu.Lock()
	defer mp.swapMu.Unlock()
	start := time.Now()
	old := mp.current.Load()
	res := SwapResult{Plugin: mp.cfg.Name, Version: old.version()}
	if mp.retired {
		res.Error = "the plugin was removed or the server is shutting down"
		return res
	}
	sum, err := fileSHA256(mp.cfg.Path)
	if err == nil && old.plugin != nil && sum == old.plugin.SHA256 {
		return res // rewritten or touched with the same bytes: nothing to do
	}
	var lp *loader.Plugin
	if err == nil {
		lp, err = s.loadNewVersion(mp, sum)
		if err == nil {
			if err = checkSwapKind(old.plugin, lp); err != nil {
				lp.Close()
			}
		}
	} else {
		err = &loader.LoadError{Plugin: mp.cfg.Name, Path: mp.cfg.Path, Err: err}
	}
	res.TookMS = time.Since(start).Milliseconds()
	if err == nil && old.plugin != nil && lp.SHA256 == old.plugin.SHA256 {
		// The file changed back between the hash above and the load: the
		// version is what was loaded, not what was hashed.
		lp.Close()
		return res
	}
	if err != nil {
		msg := err.Error()
		mp.lastError.Store(&msg)
		mp.totals.swapFailures.Add(1)
		res.Error = msg
		mp.log.Error("new version refused; "+s.servedAfterRefusal(mp, old), "reason", reason, "error", msg, "serving", old.version())
		return res
	}
	mp.replace(s.wrap(mp, lp))
	old.close() // drains: requests in flight finish on it
	mp.lastError.Store(nil)
	mp.totals.swaps.Add(1)
	res.Version, res.Swapped = lp.Version, true
	mp.log.Info("swapped", "reason", reason, "from", old.version(), "to", lp.Version,
		"took", time.Since(start).Round(time.Millisecond))
	return res
}

// servedAfterRefusal says what a plugin's requests get once a new version
// was refused, for the log line that reports it: the log must not say the
// old version serves while every request gets an error page.
func (s *Server) servedAfterRefusal(mp *mountedPlugin, old *loadedVersion) string {
	switch {
	case old.plugin == nil:
		return "no version has loaded: its requests get this error"
	case mp.cfg.Source != "" && s.state.Load().site.Server.Debug:
		// Under debug a plugin built from source shows the state of the
		// code in the editor (cmd/wasmhost sets the failure page).
		return "its requests get this error until the source is fixed"
	}
	return "the old one keeps serving"
}

// loadNewVersion loads a plugin's new file. When its machine code is in
// the cache, that is the compiled version. When it is not (the first
// deploy of these bytes: about a second of compiling for a standard-Go
// guest, more under load), it loads it interpreted, which takes a fraction
// of that, returns that version to be put in service at once, and compiles
// in the background; the compiled version replaces the interpreted one when
// it is ready, unless a newer swap has happened meanwhile. The compiler
// never runs alongside the interpreter's load, so on a small machine the
// two do not slow each other down, and a later swap never waits for it.
func (s *Server) loadNewVersion(mp *mountedPlugin, sha string) (*loader.Plugin, error) {
	cfg := hostconfig.LoaderConfig(mp.cfg)
	cfg.Services = mp.services
	if s.loader.Compiled(cfg.Engine, sha) {
		return s.loader.Load(context.Background(), cfg)
	}
	if fi, err := os.Stat(cfg.Path); err == nil && !loader.InterpretWhileCompiling(fi.Size()) && mp.current.Load().plugin != nil {
		mp.log.Info("new version is too big to serve interpreted while it compiles; the old version serves until it is compiled",
			"module_size", fmt.Sprintf("%.1f MB", float64(fi.Size())/1e6), "interpret_below", fmt.Sprintf("%.1f MB", float64(loader.InterpretBelow)/1e6))
		return s.loader.Load(context.Background(), cfg)
	}
	cfg.Interpreted = true
	interp, err := s.loader.Load(context.Background(), cfg)
	if err != nil {
		return nil, err // the compiler would refuse the same bytes
	}
	started := s.goBackground(func() {
		cfg.Interpreted, cfg.Background = false, true
		lp, err := s.loader.Load(s.bgCtx, cfg)
		mp.swapMu.Lock()
		defer mp.swapMu.Unlock()
		cur := mp.current.Load()
		switch {
		case s.bgCtx.Err() != nil: // Shutdown gave up on it
			if err == nil {
				lp.Close()
			}
			mp.log.Info("shutting down: the new version's compile was abandoned; it served interpreted", "version", interp.Version)
		case err != nil:
			// Same bytes, so unexpected (out of memory, say).
			mp.log.Error("compiling the new version failed; it stays interpreted", "error", err)
		case cur.plugin != interp || mp.retired:
			lp.Close() // superseded or retired; its machine code stays cached
		default:
			mp.replace(s.wrap(mp, lp))
			interp.Close()
			mp.log.Info("new version compiled and in service", "version", lp.Version)
		}
	})
	if started {
		mp.log.Info("new version serving interpreted while it compiles", "version", interp.Version)
	}
	return interp, nil
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Reload applies a new site: plugins whose blocks did not change stay as
// they are (but are swapped if their file changed), others are loaded,
// removed ones are closed once drained, and routes and static settings take
// effect at once. If any plugin fails to load, nothing changes and the
// error says why. Settings of the listeners (listen, tls, timeouts of the
// HTTP server) need a restart; Reload logs which ones changed.
func (s *Server) Reload(ctx context.Context, next *Site) error {
	if next == nil || next.cfg == nil {
		return errors.New("reload refused: no site")
	}
	site := next.cfg
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.closed {
		return errors.New("reload refused: the server is shutting down")
	}
	prev := s.state.Load()
	st, err := s.newState(ctx, site, prev)
	if err != nil {
		s.log.Error("reload refused; the running site is unchanged", "error", err)
		return err
	}
	kept := map[*mountedPlugin]bool{}
	for _, mp := range st.plugins {
		kept[mp] = true
	}
	var removed []*mountedPlugin
	for _, mp := range prev.plugins {
		if !kept[mp] {
			removed = append(removed, mp)
		}
	}
	// Removed plugins are retired around the store of the new state, with
	// no swap of theirs in between: a reader of either state counts each
	// version once (see pluginTotals).
	for _, mp := range removed {
		mp.swapMu.Lock()
		mp.totals.drain(mp.current.Load().plugin)
	}
	s.state.Store(st)
	grace := requestsEndWithin(prev.site)
	if s.storeGrace > 0 {
		grace = s.storeGrace
	}
	for _, mp := range removed {
		mp.retireLocked()
		mp.swapMu.Unlock()
		mp.services.Release(grace)
	}
	s.closeLive(liveLeft(prev, st), prev.site.Server.ShutdownTimeout)
	if prev.static != nil && prev.static != st.static {
		prev.static.Close()
	}
	for _, mp := range st.plugins {
		if prev.plugin(mp.cfg.Name) == mp {
			s.swap(mp, "reload") // a reload rereads every plugin: a changed file is picked up
		}
	}
	s.syncWatches(st)
	if restartNeeded(prev.site.Server, site.Server) {
		s.log.Warn("site.hcl changed server settings that apply only at start (listen, tls, processes, HTTP timeouts); restart to apply them")
	}
	s.log.Info("site reloaded", "site", site.File, "plugins", len(st.plugins))
	return nil
}

// requestsEndWithin bounds how long a request that started under site
// can still run: the longest plugin timeout (which also bounds a chain),
// and the host's grace for writing its last answer.
func requestsEndWithin(site *config.Site) time.Duration {
	longest := time.Duration(0)
	for _, pc := range site.Plugins {
		longest = max(longest, pc.Timeout)
	}
	return longest + front.FinalWriteGrace
}

func restartNeeded(a, b config.Server) bool {
	return fmt.Sprint(a.Listen, a.TLS != nil, a.Processes, a.ReusePort, a.ReadHeaderTimeout, a.ReadTimeout, a.WriteTimeout, a.IdleTimeout, a.MaxHeaderBytes) !=
		fmt.Sprint(b.Listen, b.TLS != nil, b.Processes, b.ReusePort, b.ReadHeaderTimeout, b.ReadTimeout, b.WriteTimeout, b.IdleTimeout, b.MaxHeaderBytes)
}

// startWatching watches every plugin's file (autoreload).
func (s *Server) startWatching() error {
	w, err := loader.NewWatcher(s.log.Named("watch"), watchDebounce)
	if err != nil {
		return fmt.Errorf("autoreload: %w", err)
	}
	s.watcher = w
	s.watched = map[string]bool{}
	s.syncWatches(s.state.Load())
	return nil
}

// syncWatches watches the files of st's plugins and stops watching files
// no plugin uses any more. Several plugins may share one file.
func (s *Server) syncWatches(st *siteState) {
	if s.watcher == nil {
		return
	}
	want := map[string]bool{}
	for _, mp := range st.plugins {
		want[mp.cfg.Path] = true
	}
	for path := range s.watched {
		if !want[path] {
			s.watcher.Unwatch(path)
			delete(s.watched, path)
		}
	}
	for path := range want {
		if s.watched[path] {
			continue
		}
		if err := s.watcher.Watch(path, func() { s.fileChanged(path) }); err != nil {
			s.log.Warn("cannot watch a plugin's file; autoreload is off for it", "path", path, "error", err)
			continue
		}
		s.watched[path] = true
	}
}

func (s *Server) fileChanged(path string) {
	for _, mp := range s.state.Load().plugins {
		if mp.cfg.Path == path {
			s.swap(mp, "file changed")
		}
	}
}

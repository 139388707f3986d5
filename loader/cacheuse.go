package loader

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmhost/wasmhost/internal/cachegc"
)

// The compilation cache on disk is bounded (Options.CacheSize) by
// internal/cachegc, which removes the entries used least recently. wazero
// names its entries by a key of its own and reads them without telling, so
// the loader keeps the link: the marker of a module (markerDir(k)/<sha>)
// lists, one per line, the cache files its compilation wrote, and every
// compiled load of the module touches them and the marker. A module whose
// listed files were pruned is no longer Compiled.

// markerDir holds the markers of one engine version, next to its cache.
func (l *Loader) markerDir(k engineKind) string {
	return filepath.Join(l.engineDir(k), "compiled")
}

// cacheFiles lists the entry files under the cache folder, relative to it:
// what the engines wrote, not wasmhost's own markers and locks (the
// "compiled" and "locks" folders of each engine version's folder).
func (l *Loader) cacheFiles() map[string]bool {
	files := map[string]bool{}
	if l.opts.CacheDir == "" {
		return files
	}
	filepath.WalkDir(l.opts.CacheDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != l.opts.CacheDir && filepath.Dir(filepath.Dir(path)) == filepath.Clean(l.opts.CacheDir) &&
				(d.Name() == "compiled" || d.Name() == "locks") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && !strings.HasSuffix(path, ".tmp") {
			rel, _ := filepath.Rel(l.opts.CacheDir, path)
			files[rel] = true
		}
		return nil
	})
	return files
}

// newCacheFiles returns the files of after that before lacks.
func newCacheFiles(before, after map[string]bool) []string {
	var added []string
	for f := range after {
		if !before[f] {
			added = append(added, f)
		}
	}
	return added
}

// markerEntries reads the cache files a module's marker lists; ok is false
// without a marker.
func (l *Loader) markerEntries(k engineKind, sha string) (entries []string, ok bool) {
	b, err := os.ReadFile(filepath.Join(l.markerDir(k), sha))
	if err != nil {
		return nil, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" {
			entries = append(entries, line)
		}
	}
	return entries, true
}

// cached reports whether a module's marker and every cache file it lists
// are there.
func (l *Loader) cached(k engineKind, sha string) bool {
	entries, ok := l.markerEntries(k, sha)
	if !ok {
		return false
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(l.opts.CacheDir, e)); err != nil {
			return false
		}
	}
	return true
}

// touchCached records a use of a module's cache entries.
func (l *Loader) touchCached(k engineKind, sha string) {
	if l.opts.CacheDir == "" {
		return
	}
	entries, _ := l.markerEntries(k, sha)
	paths := []string{filepath.Join(l.markerDir(k), sha)}
	for _, e := range entries {
		paths = append(paths, filepath.Join(l.opts.CacheDir, e))
	}
	cachegc.Touch(paths...)
}

// pruneCache removes the least recently used entries until the cache fits
// Options.CacheSize.
func (l *Loader) pruneCache() {
	if l.opts.CacheDir == "" || l.opts.CacheSize <= 0 {
		return
	}
	res, err := cachegc.Prune(l.opts.CacheDir, l.opts.CacheSize)
	if err != nil {
		l.log.Warn("compilation cache: cannot prune", "dir", l.opts.CacheDir, "error", err)
		return
	}
	if res.Removed > 0 {
		l.log.Debug("compilation cache pruned", "removed", res.Removed, "removed_bytes", res.RemovedBytes, "kept_bytes", res.KeptBytes)
	}
}

// Package cachegc keeps a cache folder under a size bound by removing the
// files used least recently.
//
// It knows nothing of what the files are: a cache is a folder tree of
// entries (one file each), laid out however its writers like (per engine
// and engine version, say). Recency is a file's modification time, which
// writers set by writing and readers refresh with Touch when they use an
// entry, so the order is least recently used, not least recently written.
// Several processes may share a folder and prune it at once: a file that
// is already gone is not an error.
package cachegc

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// tmpAge is how old a *.tmp file must be to count as a crash's leftover
// rather than an entry being written.
const tmpAge = time.Hour

// Result says what a Prune did.
type Result struct {
	Kept, Removed           int   // files
	KeptBytes, RemovedBytes int64 // their sizes
}

type file struct {
	path string
	size int64
	used time.Time
}

// Prune removes files under root, least recently used first, until the
// files left total at most limit bytes. Files named *.lock are never
// removed (a process may hold a lock on one), nor *.tmp files younger than
// an hour (being written). Folders stay, even empty: a writer may expect
// the folder it made at its start. A missing root is an empty cache.
func Prune(root string, limit int64) (Result, error) {
	var files []file
	var total int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(path, ".lock") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if strings.HasSuffix(path, ".tmp") && time.Since(info.ModTime()) < tmpAge {
			return nil
		}
		files = append(files, file{path, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	slices.SortFunc(files, func(a, b file) int { return a.used.Compare(b.used) })
	var res Result
	for _, f := range files {
		if total <= limit {
			break
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		total -= f.size
		res.Removed++
		res.RemovedBytes += f.size
	}
	res.Kept, res.KeptBytes = len(files)-res.Removed, total
	return res, nil
}

// Touch records that the files were used now. Files that are gone are
// skipped: an entry pruned by another process is simply no longer cached.
func Touch(paths ...string) {
	now := time.Now()
	for _, p := range paths {
		os.Chtimes(p, time.Time{}, now)
	}
}

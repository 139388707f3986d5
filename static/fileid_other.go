//go:build !linux

package static

import (
	"io/fs"
	"time"
)

// sysKey is empty where the stat structure is not known to this package:
// the hash cache is then keyed by size and modification time only, and the
// racy-file rule (see racyWindow) covers edits within one clock tick.
type sysKey struct{}

func sysKeyOf(fs.FileInfo) sysKey { return sysKey{} }

func changeTime(fi fs.FileInfo) time.Time { return fi.ModTime() }

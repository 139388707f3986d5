package static

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// hashLen is how many hex digits of the SHA-256 are kept: 64 bits, so two
// versions of one file collide with probability 2^-64, and URLs stay short.
const hashLen = 16

// racyWindow is how recent a file's modification may be for its hash to be
// cached. File times are coarse (Linux stamps them from a clock that ticks
// every few milliseconds; FAT has 2 s resolution), so a file rewritten twice
// within one tick with the same size keeps its key. Like git's "racily
// clean" entries, a file changed that recently is hashed again on every use
// until it has been quiet for the window: a stale hash can then never
// outlive the file's next stat.
const racyWindow = 2 * time.Second

// fileKey identifies one version of a file for the hash cache. Size and
// modification time catch ordinary edits; the inode and device catch a
// file replaced by rename (how editors and deploy tools write); the
// change time (Linux) catches an edit whose author reset the mtime.
type fileKey struct {
	size  int64
	mtime int64 // Unix nanoseconds
	sys   sysKey
}

func keyOf(fi fs.FileInfo) fileKey {
	return fileKey{size: fi.Size(), mtime: fi.ModTime().UnixNano(), sys: sysKeyOf(fi)}
}

// hashCache maps a name to the hash of the version of the file it last
// saw. Only files that exist get entries, so a client cannot grow it with
// made-up names, and a name whose file has gone is dropped at its next
// lookup. A miss is never cached: "does it exist?" is asked of the file
// system every time, so a file created after a miss is found at once.
type hashCache struct {
	mu sync.Mutex
	m  map[string]hashEntry
}

type hashEntry struct {
	key fileKey
	sum string
}

func (c *hashCache) get(name string, key fileKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[name]
	if !ok || e.key != key {
		return "", false
	}
	return e.sum, true
}

func (c *hashCache) put(name string, key fileKey, sum string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]hashEntry)
	}
	c.m[name] = hashEntry{key, sum}
}

func (c *hashCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, name)
}

// contentHash returns the version hash of the open file f (name relative to
// the root, fi its current FileInfo). With HashCache on, the cached hash is
// used when the file's key is unchanged; otherwise, or when the file is
// racily new, the content is read and hashed.
func (h *Handler) contentHash(name string, f *os.File, fi fs.FileInfo) (string, error) {
	key := keyOf(fi)
	if h.hashCache {
		if sum, ok := h.hashes.get(name, key); ok {
			return sum, nil
		}
	}
	started := h.now()
	sum, err := hashFile(f, fi.Size())
	if err != nil {
		return "", fmt.Errorf("hash static file %s: %w", name, err)
	}
	if !h.hashCache {
		return sum, nil
	}
	// Cache only what is certainly one version of the file: unchanged
	// while it was read, and not modified so recently that a further
	// change could hide behind the same key.
	after, err := f.Stat()
	if err == nil && keyOf(after) == key && !racy(after, started) {
		h.hashes.put(name, key, sum)
	} else {
		h.hashes.forget(name)
	}
	return sum, nil
}

// racy reports whether fi's times are too close to now to tell two versions
// apart (see racyWindow). A file time in the future counts as racy too.
func racy(fi fs.FileInfo, now time.Time) bool {
	limit := now.Add(-racyWindow)
	return !fi.ModTime().Before(limit) || !changeTime(fi).Before(limit)
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// hashFile hashes the first size bytes of f with ReadAt, leaving the file
// offset alone, and fails if the file is shorter than that.
func hashFile(f *os.File, size int64) (string, error) {
	d := sha256.New()
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	n, err := io.CopyBuffer(d, io.NewSectionReader(f, 0, size), *bp)
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("file shrank while it was read (%d of %d bytes)", n, size)
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(d.Sum(sum[:0]))[:hashLen], nil
}

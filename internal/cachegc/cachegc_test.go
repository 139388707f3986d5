package cachegc

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func write(t *testing.T, path string, size int, age time.Duration) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-age)
	os.Chtimes(path, when, when)
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestPruneRemovesLeastRecentlyUsed: the oldest entries go first, a touched
// one counts as new, locks and fresh temporary files stay.
func TestPruneRemovesLeastRecentlyUsed(t *testing.T) {
	root := t.TempDir()
	a, b, c := filepath.Join(root, "e1-v1", "a"), filepath.Join(root, "e1-v1", "b"), filepath.Join(root, "e2-v3", "c")
	lock, tmp := filepath.Join(root, "locks", "x.lock"), filepath.Join(root, "e1-v1", "d.123.tmp")
	write(t, a, 100, 3*time.Hour)
	write(t, b, 100, 2*time.Hour)
	write(t, c, 100, time.Hour)
	write(t, lock, 0, 5*time.Hour)
	write(t, tmp, 100, time.Minute)
	Touch(a) // used now: b is the least recently used
	res, err := Prune(root, 250)
	if err != nil {
		t.Fatal(err)
	}
	if exists(b) || !exists(a) || !exists(c) || !exists(lock) || !exists(tmp) {
		t.Errorf("after Prune(250): a %v b %v c %v lock %v tmp %v; want only b gone", exists(a), exists(b), exists(c), exists(lock), exists(tmp))
	}
	if res.Removed != 1 || res.KeptBytes != 200 {
		t.Errorf("result %+v, want 1 removed and 200 bytes kept", res)
	}
	if !exists(filepath.Dir(b)) {
		t.Errorf("the entry's folder was removed; writers expect it")
	}
	if _, err := Prune(filepath.Join(root, "missing"), 1); err != nil {
		t.Errorf("a missing cache: %v", err)
	}
}

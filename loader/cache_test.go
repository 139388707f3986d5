package loader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// tinyModule is a valid module with one empty function and a custom
// section holding tag: every tag is a distinct build, with a distinct
// compilation cache entry.
func tinyModule(tag string) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00) // type: func()
	b = append(b, 0x03, 0x02, 0x01, 0x00)             // function 0 has type 0
	b = append(b, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b) // its body: end
	name := "build"
	payload := append([]byte{byte(len(name))}, name...)
	payload = append(payload, tag...)
	b = append(b, 0x00, byte(len(payload)))
	return append(b, payload...)
}

func dirSize(t *testing.T, root string) int64 {
	var n int64
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			info, _ := d.Info()
			n += info.Size()
		}
		return nil
	})
	return n
}

// TestCacheStaysUnderItsSize: thirty distinct builds compiled one after the
// other keep the cache folder under its bound, and the build used most
// recently survives where older ones were removed.
func TestCacheStaysUnderItsSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	builds := make([]string, 30)
	for i := range builds {
		builds[i] = filepath.Join(dir, fmt.Sprintf("build%02d.wasm", i))
		if err := os.WriteFile(builds[i], tinyModule(fmt.Sprintf("%02d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// One build's footprint, to set a bound that holds about five.
	probe, err := New(Options{CacheDir: filepath.Join(dir, "probe")})
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.Precompile(ctx, "", builds[0]); err != nil {
		t.Fatal(err)
	}
	probe.Close(ctx)
	one := dirSize(t, filepath.Join(dir, "probe"))
	if one == 0 {
		t.Fatal("compiling wrote nothing to the cache")
	}
	cache, limit := filepath.Join(dir, "cache"), 5*one+one/2
	l, err := New(Options{CacheDir: cache, CacheSize: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	for i, b := range builds {
		if err := l.Precompile(ctx, "", b); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			// Build 0 is in use all along: loading it marks it recent.
			if err := l.Precompile(ctx, "", builds[0]); err != nil {
				t.Fatal(err)
			}
		}
		if n := dirSize(t, cache); n > limit {
			t.Fatalf("after build %d the cache holds %d bytes, over its %d", i, n, limit)
		}
	}
	// A fresh loader sees only what is on disk.
	fresh, err := New(Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close(ctx)
	if !fresh.Compiled("", fileSHA(t, builds[0])) {
		t.Errorf("the build used all along was evicted")
	}
	if fresh.Compiled("", fileSHA(t, builds[1])) {
		t.Errorf("the least recently used build is still cached")
	}
	if !fresh.Compiled("", fileSHA(t, builds[29])) {
		t.Errorf("the newest build is not cached")
	}
}

func fileSHA(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

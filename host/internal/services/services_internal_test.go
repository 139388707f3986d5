package services

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/config"
)

// The registry's bookkeeping: a store lives while a claim holds it, a
// claim that comes back within the grace keeps it, and the last release
// closes it after the grace.
func TestStoreRegistryClaims(t *testing.T) {
	r := NewRegistry()
	defer r.Close()
	d := config.KV{Name: "s", Path: filepath.Join(t.TempDir(), "s.kv")}
	k := keyOf(d)
	if _, err := r.open(d); err == nil || !strings.Contains(err.Error(), "replaced by a reload") {
		t.Fatalf("open without a claim: %v, want an error that says why", err)
	}
	r.claim(k)
	r.claim(k) // two plugins granted it
	if _, err := r.open(d); err != nil {
		t.Fatal(err)
	}
	r.release(k, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if r.OpenCount() != 1 {
		t.Fatal("closed while a claim remained")
	}
	r.release(k, 30*time.Millisecond)
	r.claim(k) // declared again before the grace ran out
	time.Sleep(60 * time.Millisecond)
	if r.OpenCount() != 1 {
		t.Fatal("closed although it was claimed again within the grace")
	}
	r.release(k, time.Millisecond)
	r.release(k, time.Millisecond) // a second release of a gone claim is ignored
	deadline := time.Now().Add(5 * time.Second)
	for r.OpenCount() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r.OpenCount() != 0 {
		t.Fatal("still open after the last release's grace")
	}
	if _, err := r.open(d); err == nil {
		t.Fatal("opened after its declaration was released")
	}
}

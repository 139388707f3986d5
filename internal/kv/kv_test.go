package kv_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wasmhost/wasmhost/internal/kv"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// backends opens a fresh store of each backend.
func backends(t *testing.T) map[string]func() kv.Store {
	return map[string]func() kv.Store{
		"sqlite": func() kv.Store {
			s, err := kv.OpenSQLite(filepath.Join(t.TempDir(), "t.kv"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func() kv.Store {
			s, err := kv.OpenRedis(testutil.Redis(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func TestStoreContract(t *testing.T) {
	ctx := context.Background()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open()
			if _, err := s.Get(ctx, "a"); !errors.Is(err, kv.ErrNotFound) {
				t.Fatalf("Get absent: %v, want ErrNotFound", err)
			}
			if err := s.Delete(ctx, "a"); err != nil {
				t.Fatalf("Delete absent: %v", err)
			}
			for _, k := range []string{"user:2", "user:10", "user:1", "user_x", "other", "user%"} {
				if err := s.Set(ctx, k, []byte("v-"+k)); err != nil {
					t.Fatal(err)
				}
			}
			keys, err := s.Keys(ctx, "user:")
			if want := []string{"user:1", "user:10", "user:2"}; err != nil || !slices.Equal(keys, want) {
				t.Fatalf("Keys(user:) = %q, %v; want %q", keys, err, want)
			}
			if keys, _ := s.Keys(ctx, "user%"); !slices.Equal(keys, []string{"user%"}) {
				t.Fatalf("Keys(user%%) = %q: the prefix is not a pattern", keys)
			}
			if all, _ := s.Keys(ctx, ""); len(all) != 6 {
				t.Fatalf("Keys(\"\") = %q", all)
			}
			if v, err := s.Get(ctx, "user:1"); err != nil || string(v) != "v-user:1" {
				t.Fatalf("Get = %q, %v", v, err)
			}
			bin := []byte{0, 1, 0xff, 'x'}
			s.Set(ctx, "bin", bin)
			if v, _ := s.Get(ctx, "bin"); !slices.Equal(v, bin) {
				t.Fatalf("binary value came back as %v", v)
			}
			if ok, _ := s.Exists(ctx, "bin"); !ok {
				t.Fatal("Exists(bin) = false")
			}
			s.Delete(ctx, "bin")
			if ok, _ := s.Exists(ctx, "bin"); ok {
				t.Fatal("Exists after Delete = true")
			}

			if ok, err := s.CompareAndSwap(ctx, "c", nil, []byte("1")); !ok || err != nil {
				t.Fatalf("CAS absent->1 = %v, %v", ok, err)
			}
			if ok, _ := s.CompareAndSwap(ctx, "c", nil, []byte("2")); ok {
				t.Fatal("CAS with old nil swapped a present key")
			}
			if ok, _ := s.CompareAndSwap(ctx, "c", []byte("0"), []byte("2")); ok {
				t.Fatal("CAS with a wrong old value swapped")
			}
			if ok, _ := s.CompareAndSwap(ctx, "c", []byte("1"), []byte("2")); !ok {
				t.Fatal("CAS with the right old value did not swap")
			}
			if ok, _ := s.CompareAndSwap(ctx, "absent", []byte(""), []byte("x")); ok {
				t.Fatal("CAS with old \"\" swapped an absent key")
			}
			if v, _ := s.Get(ctx, "c"); string(v) != "2" {
				t.Fatalf("after CAS: %q", v)
			}

			if n, err := s.Increment(ctx, "n", 5); n != 5 || err != nil {
				t.Fatalf("Increment absent = %d, %v", n, err)
			}
			if n, _ := s.Increment(ctx, "n", -7); n != -2 {
				t.Fatalf("Increment -7 = %d", n)
			}
			if _, err := s.Increment(ctx, "user:1", 1); err == nil {
				t.Fatal("Increment of a non-integer value succeeded")
			}
		})
	}
}

// TestStoreAtomic runs Increment and CompareAndSwap from many goroutines,
// each through a store of its own (as separate processes would): no
// update may be lost.
func TestStoreAtomic(t *testing.T) {
	ctx := context.Background()
	open := map[string]func() kv.Store{}
	dir := t.TempDir()
	open["sqlite"] = func() kv.Store {
		s, err := kv.OpenSQLite(filepath.Join(dir, "shared.kv"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	var url string
	open["redis"] = func() kv.Store {
		if url == "" {
			url = testutil.Redis(t)
		}
		s, _ := kv.OpenRedis(url)
		t.Cleanup(func() { s.Close() })
		return s
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			const clients, each = 8, 25
			stores := make([]kv.Store, clients)
			for i := range stores {
				stores[i] = open()
			}
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for _, s := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						if _, err := s.Increment(ctx, "hits", 1); err != nil {
							errs <- err
							return
						}
						// A CAS counter: read, then swap in old+1, retrying.
						for {
							v, err := s.Get(ctx, "cas")
							var old []byte
							n := 0
							if err == nil {
								old = v
								fmt.Sscan(string(v), &n)
							} else if !errors.Is(err, kv.ErrNotFound) {
								errs <- err
								return
							}
							ok, err := s.CompareAndSwap(ctx, "cas", old, []byte(fmt.Sprint(n+1)))
							if err != nil {
								errs <- err
								return
							}
							if ok {
								break
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if n, _ := stores[0].Increment(ctx, "hits", 0); n != clients*each {
				t.Fatalf("hits = %d, want %d", n, clients*each)
			}
			if v, _ := stores[0].Get(ctx, "cas"); string(v) != fmt.Sprint(clients*each) {
				t.Fatalf("cas counter = %s, want %d", v, clients*each)
			}
		})
	}
}

func TestCheckKeyValue(t *testing.T) {
	if err := kv.CheckKey(""); err == nil {
		t.Error("empty key accepted")
	}
	if err := kv.CheckKey(string(make([]byte, kv.MaxKeyBytes+1))); err == nil {
		t.Error("long key accepted")
	}
	if err := kv.CheckKey("\xff"); err == nil {
		t.Error("non-UTF-8 key accepted")
	}
	if err := kv.CheckValue(make([]byte, kv.MaxValueBytes+1)); err == nil {
		t.Error("large value accepted")
	}
	if _, err := kv.Open("memcached", "", ""); err == nil {
		t.Error("unknown backend accepted")
	}
	_, err := kv.OpenRedis("redis://user:hunter2@[::1")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad redis url: %v (must fail without showing the password)", err)
	}
}

func TestGetMany(t *testing.T) {
	ctx := context.Background()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open()
			s.Set(ctx, "a", []byte("1"))
			s.Set(ctx, "b", []byte{})
			got, err := s.GetMany(ctx, []string{"a", "missing", "b"})
			if err != nil || len(got) != 2 || string(got["a"]) != "1" || got["b"] == nil || len(got["b"]) != 0 {
				t.Fatalf("GetMany = %q, %v", got, err)
			}
			if got, err := s.GetMany(ctx, nil); err != nil || len(got) != 0 {
				t.Fatalf("GetMany(nil) = %q, %v", got, err)
			}
			// The values found are bounded together, before the host holds
			// them: 17 values of 1 MiB pass 16 MiB.
			big := make([]byte, kv.MaxValueBytes)
			var keys []string
			for i := range 17 {
				k := fmt.Sprintf("big%d", i)
				if err := s.Set(ctx, k, big); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			if _, err := s.GetMany(ctx, keys); !errors.Is(err, kv.ErrTooLarge) {
				t.Errorf("GetMany of 17 MiB: %v, want ErrTooLarge", err)
			}
			if got, err := s.GetMany(ctx, keys[:16]); err != nil || len(got) != 16 {
				t.Errorf("GetMany of 16 MiB: %d values, %v", len(got), err)
			}
			if _, err := s.GetMany(ctx, make([]string, kv.MaxGetManyKeys+1)); err == nil || !strings.Contains(err.Error(), "limit") {
				t.Errorf("GetMany of too many keys: %v", err)
			}
		})
	}
}

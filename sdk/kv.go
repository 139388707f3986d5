package sdk

import (
	"errors"
	"fmt"

	"github.com/wasmhost/wasmhost/abi"
)

// ErrNotFound is the error of KV.Get for a key that is absent:
// errors.Is(err, sdk.ErrNotFound).
var ErrNotFound = errors.New("wasmhost: key not found")

// ErrTimeout is the error of a KV call that the store did not answer
// within the timeout of its kv block in site.hcl (default 2s):
// errors.Is(err, sdk.ErrTimeout). The request goes on, so the handler can
// answer it, typically with 503. A write that timed out may still have
// taken effect.
var ErrTimeout = errors.New("wasmhost: key-value store timed out")

// KV is a key-value store declared in site.hcl (kv "NAME" {}) and granted
// to the plugin (plugin { kv = ["NAME"] }). The store lives on the host, so
// every instance, every worker and (with the redis backend) every host
// sees the same data; Increment and CompareAndSwap are atomic across all
// of them. Keys are non-empty UTF-8 strings of at most 1 KiB; values are
// bytes, at most 1 MiB.
//
// Natively (in a plugin's httptest tests) OpenKV returns an in-memory store
// per name, shared by the whole test process.
type KV struct {
	name string
	b    kvBackend
}

// kvBackend is the host's store in a plugin and a map natively.
type kvBackend interface {
	get(key string) ([]byte, error)
	getMany(keys []string) (map[string][]byte, error)
	set(key string, value []byte) error
	del(key string) error
	exists(key string) (bool, error)
	keys(prefix string) ([]string, error)
	increment(key string, delta int64) (int64, error)
	cas(key string, old, new []byte) (bool, error)
}

// OpenKV opens the store named name; it fails unless site.hcl declares it
// and grants it to this plugin.
func OpenKV(name string) (*KV, error) {
	b, err := openKV(name)
	if err != nil {
		return nil, err
	}
	return &KV{name: name, b: b}, nil
}

func (s *KV) checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("kv %q: empty key", s.name)
	}
	if len(key) > abi.MaxKVKeyBytes {
		return fmt.Errorf("kv %q: key of %d bytes is longer than the limit of %d", s.name, len(key), abi.MaxKVKeyBytes)
	}
	return nil
}

func (s *KV) checkValue(v []byte) error {
	if len(v) > abi.MaxKVValueBytes {
		return fmt.Errorf("kv %q: value of %d bytes is larger than the limit of %d", s.name, len(v), abi.MaxKVValueBytes)
	}
	return nil
}

// Get returns the value of key; errors.Is(err, ErrNotFound) when absent.
func (s *KV) Get(key string) ([]byte, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	return s.b.get(key)
}

// GetMany returns the values of several keys in one call to the host (and
// one round trip to the store: MGET on Redis, one query on SQLite). Keys
// that are absent are left out of the map. At most 1,000 keys, whose
// values found add up to at most 16 MiB; beyond either it returns an
// error, and the caller splits the list.
func (s *KV) GetMany(keys []string) (map[string][]byte, error) {
	if len(keys) > abi.MaxKVGetManyKeys {
		return nil, fmt.Errorf("kv %q: GetMany of %d keys; the limit is %d", s.name, len(keys), abi.MaxKVGetManyKeys)
	}
	for _, k := range keys {
		if err := s.checkKey(k); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 {
		return map[string][]byte{}, nil
	}
	return s.b.getMany(keys)
}

// Set stores value under key.
func (s *KV) Set(key string, value []byte) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	if err := s.checkValue(value); err != nil {
		return err
	}
	return s.b.set(key, value)
}

// Delete removes key; it returns nil when the key is absent.
func (s *KV) Delete(key string) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	return s.b.del(key)
}

// Exists reports whether key is present.
func (s *KV) Exists(key string) (bool, error) {
	if err := s.checkKey(key); err != nil {
		return false, err
	}
	return s.b.exists(key)
}

// Keys returns the keys that start with prefix (all keys for ""), sorted.
// A store with more than 10,000 matching keys returns an error.
func (s *KV) Keys(prefix string) ([]string, error) {
	if len(prefix) > abi.MaxKVKeyBytes {
		return nil, fmt.Errorf("kv %q: prefix longer than the key limit of %d bytes", s.name, abi.MaxKVKeyBytes)
	}
	return s.b.keys(prefix)
}

// Increment adds delta to the integer stored under key (an absent key
// counts as 0) and returns the new value, atomically. The value is stored
// in decimal, so Get returns it as text.
func (s *KV) Increment(key string, delta int64) (int64, error) {
	if err := s.checkKey(key); err != nil {
		return 0, err
	}
	return s.b.increment(key, delta)
}

// CompareAndSwap sets key to new if its value equals old, atomically, and
// reports whether it did. With old == nil it sets key only if it is absent
// (a non-nil empty old matches an empty value).
func (s *KV) CompareAndSwap(key string, old, new []byte) (bool, error) {
	if err := s.checkKey(key); err != nil {
		return false, err
	}
	if err := s.checkValue(old); err != nil {
		return false, err
	}
	if err := s.checkValue(new); err != nil {
		return false, err
	}
	return s.b.cas(key, old, new)
}

// Package kv is the key-value store behind sdk.OpenKV: one small interface,
// Store, and its two backends, an SQLite file on this host (shared by every
// prefork worker of the host) and Redis (shared by every host of a fleet).
//
// Keys are strings and values are bytes. Increment and CompareAndSwap are
// atomic in the backend itself (an SQLite write transaction, a Redis
// command or script), never in this process, because the processes sharing
// a store do not share memory: prefork workers, and the hosts of a fleet.
package kv

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/wasmhost/wasmhost/abi"
)

// ErrNotFound is returned by Get for a key that is not in the store.
var ErrNotFound error = &guestError{"key not found", abi.ErrNotFound}

// ErrNotInteger is returned by Increment when the key holds a value that is
// not a decimal integer.
var ErrNotInteger error = &guestError{"value is not an integer", abi.ErrInvalid}

// Bounds on what one call may store. A guest can make the host hold a key
// and a value at once, so these bound host memory as well as the store.
const (
	MaxKeyBytes   = abi.MaxKVKeyBytes
	MaxValueBytes = abi.MaxKVValueBytes
	// MaxKeysResult bounds what Keys returns, so a store with millions of
	// keys cannot make one call hold them all.
	MaxKeysResult = abi.MaxKVKeys
	// MaxGetManyKeys and MaxGetManyBytes bound one GetMany: the keys it
	// asks for, and the values it returns together.
	MaxGetManyKeys  = abi.MaxKVGetManyKeys
	MaxGetManyBytes = abi.MaxKVGetManyBytes
)

// ErrTooLarge is returned by GetMany when the values found add up to more
// than MaxGetManyBytes.
var ErrTooLarge error = &guestError{"result too large", abi.ErrTooLarge}

// guestError is an error a guest can tell apart: its Errno is the abi.Err*
// code the kv_* host functions return for it.
type guestError struct {
	msg   string
	errno int32
}

func (e *guestError) Error() string { return e.msg }
func (e *guestError) Errno() int32  { return e.errno }

// Store is one key-value store. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the value of key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetMany returns the values of the keys that are present, in one
	// round trip to the backend; absent keys are left out of the map. At
	// most MaxGetManyKeys keys, and ErrTooLarge when the values found add
	// up to more than MaxGetManyBytes.
	GetMany(ctx context.Context, keys []string) (map[string][]byte, error)
	// Set stores value under key.
	Set(ctx context.Context, key string, value []byte) error
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Exists reports whether key is present.
	Exists(ctx context.Context, key string) (bool, error)
	// Keys returns the keys starting with prefix, sorted bytewise, at most
	// MaxKeysResult of them (an error beyond).
	Keys(ctx context.Context, prefix string) ([]string, error)
	// Increment adds delta to the decimal integer stored under key (absent
	// counts as 0) and returns the new value.
	Increment(ctx context.Context, key string, delta int64) (int64, error)
	// CompareAndSwap sets key to new if its current value is old; with old
	// nil, only if key is absent. It reports whether it swapped.
	CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error)
	// Close releases the store's connections.
	Close() error
}

// CheckKey reports a key that is empty, too long, or not UTF-8 (Keys sorts
// and Redis lists them as strings, so a key is text).
func CheckKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("key of %d bytes is longer than the limit of %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return errors.New("key is not valid UTF-8")
	}
	return nil
}

// CheckValue reports a value over MaxValueBytes.
func CheckValue(v []byte) error {
	if len(v) > MaxValueBytes {
		return fmt.Errorf("value of %d bytes is larger than the limit of %d", len(v), MaxValueBytes)
	}
	return nil
}

// checkGetMany bounds a GetMany's request and, with total, its result.
func checkGetMany(keys []string) error {
	if len(keys) > MaxGetManyKeys {
		return fmt.Errorf("GetMany of %d keys; the limit is %d", len(keys), MaxGetManyKeys)
	}
	return nil
}

func checkGetManyTotal(total int) error {
	if total > MaxGetManyBytes {
		return fmt.Errorf("%w: the values found add up to more than %d bytes", ErrTooLarge, MaxGetManyBytes)
	}
	return nil
}

// Open opens a store of the given backend: "sqlite" with the file path,
// "redis" with a redis:// URL.
func Open(backend, path, url string) (Store, error) {
	switch backend {
	case "sqlite", "":
		return OpenSQLite(path)
	case "redis":
		return OpenRedis(url)
	}
	return nil, fmt.Errorf("unknown key-value backend %q", backend)
}

package kv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wasmhost/wasmhost/abi"
)

// ErrTimeout is returned by a store's operation that did not finish within
// the store's timeout (kv "NAME" { timeout = "2s" }). The operation may
// still have taken effect: a write the backend received before the bound
// ran out is not undone.
var ErrTimeout error = &guestError{"key-value operation timed out", abi.ErrTimeout}

// WithTimeout bounds every operation of s by d. A backend that stops
// answering (a Redis server stopped, an SQLite file another process keeps
// locked) then costs the request d, and the guest an error it can tell
// apart with errors.Is(err, ErrTimeout), instead of its whole deadline.
func WithTimeout(s Store, d time.Duration) Store {
	if d <= 0 {
		return s
	}
	return &timeoutStore{Store: s, d: d}
}

type timeoutStore struct {
	Store
	d time.Duration
}

// errStoreDeadline is the cause of a context this file cancelled: it tells
// the store's own bound from the request's end.
var errStoreDeadline = errors.New("store timeout")

func (s *timeoutStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.d, errStoreDeadline)
}

// result turns an operation's error into ErrTimeout when the store's bound
// ended it (and not the request, whose end the caller reports itself).
func (s *timeoutStore) result(ctx context.Context, err error) error {
	if err != nil && context.Cause(ctx) == errStoreDeadline {
		return fmt.Errorf("%w: no answer within %s", ErrTimeout, s.d)
	}
	return err
}

func (s *timeoutStore) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := s.Store.Get(ctx, key)
	return v, s.result(ctx, err)
}

func (s *timeoutStore) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	m, err := s.Store.GetMany(ctx, keys)
	return m, s.result(ctx, err)
}

func (s *timeoutStore) Set(ctx context.Context, key string, value []byte) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.result(ctx, s.Store.Set(ctx, key, value))
}

func (s *timeoutStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.result(ctx, s.Store.Delete(ctx, key))
}

func (s *timeoutStore) Exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ok, err := s.Store.Exists(ctx, key)
	return ok, s.result(ctx, err)
}

func (s *timeoutStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	keys, err := s.Store.Keys(ctx, prefix)
	return keys, s.result(ctx, err)
}

func (s *timeoutStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n, err := s.Store.Increment(ctx, key, delta)
	return n, s.result(ctx, err)
}

func (s *timeoutStore) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ok, err := s.Store.CompareAndSwap(ctx, key, old, new)
	return ok, s.result(ctx, err)
}

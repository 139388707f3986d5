//go:build !wasip1

package sdk

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// memKV is the native stand-in for the host's stores: one map per store
// name, shared by the process, so a plugin's httptest tests see its state
// across requests.
type memKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

var (
	memStoresMu sync.Mutex
	memStores   = map[string]*memKV{}
)

func openKV(name string) (kvBackend, error) {
	if name == "" {
		return nil, errors.New("sdk: OpenKV needs a store name")
	}
	memStoresMu.Lock()
	defer memStoresMu.Unlock()
	s := memStores[name]
	if s == nil {
		s = &memKV{m: map[string][]byte{}}
		memStores[name] = s
	}
	return s, nil
}

func (s *memKV) get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return append([]byte{}, v...), nil
}

func (s *memKV) getMany(keys []string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := map[string][]byte{}
	for _, k := range keys {
		if v, ok := s.m[k]; ok {
			found[k] = append([]byte{}, v...)
		}
	}
	return found, nil
}

func (s *memKV) set(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = append([]byte{}, value...)
	return nil
}

func (s *memKV) del(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func (s *memKV) exists(key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[key]
	return ok, nil
}

func (s *memKV) keys(prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := []string{}
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func (s *memKV) increment(key string, delta int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	if v, ok := s.m[key]; ok {
		var err error
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return 0, fmt.Errorf("kv: the value of %q is not an integer", key)
		}
	}
	n += delta
	s.m[key] = []byte(strconv.FormatInt(n, 10))
	return n, nil
}

func (s *memKV) cas(key string, old, new []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[key]
	if old == nil && ok || old != nil && (!ok || !bytes.Equal(cur, old)) {
		return false, nil
	}
	s.m[key] = append([]byte{}, new...)
	return true, nil
}

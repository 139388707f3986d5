package kv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisStore keeps each key as a Redis string. Every host of a fleet that
// names the same server and database shares the store.
type redisStore struct{ c *redis.Client }

// OpenRedis connects to the server of a redis:// or rediss:// URL. It does
// not dial: a server that is down makes each call fail, not the site's
// start, so a host comes up (and serves its other plugins) while Redis
// restarts.
func OpenRedis(rawURL string) (Store, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// The URL may hold a password: name the problem, not the URL.
		return nil, fmt.Errorf("invalid redis url (%s): %w", Redact(rawURL), errors.Unwrap(err))
	}
	// Without this go-redis ignores a context's deadline on the socket and
	// waits out its own read timeout (3s) and retries (3): a server that
	// stops answering would hold the call for 12s, past any kv timeout.
	opts.ContextTimeoutEnabled = true
	return &redisStore{c: redis.NewClient(opts)}, nil
}

// Redact returns a URL with its password replaced by "xxxxx", for messages.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

func (s *redisStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return v, err
}

// getManyScript is MGET behind a size check, in one round trip: the
// values stay on the server unless they fit the bound, so a guest that
// stored a thousand 1 MiB values cannot make one call pull a gigabyte into
// the host before the host could refuse it. For 100 keys of 100 bytes it
// takes ~140 us against ~60 us for a bare MGET and ~2 ms for 100 GETs (a
// STRLEN per key before the MGET took ~400 us).
var getManyScript = redis.NewScript(`
local vals = redis.call('MGET', unpack(KEYS))
local total, limit = 0, tonumber(ARGV[1])
for i = 1, #vals do
  if vals[i] then total = total + #vals[i] end
end
if total > limit then return false end
return vals`)

func (s *redisStore) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := checkGetMany(keys); err != nil {
		return nil, err
	}
	found := map[string][]byte{}
	if len(keys) == 0 {
		return found, nil // MGET with no key is a Redis error
	}
	vals, err := getManyScript.Run(ctx, s.c, keys, MaxGetManyBytes).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, checkGetManyTotal(MaxGetManyBytes + 1)
	}
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		// MGET answers nil for an absent key.
		if str, ok := v.(string); ok && i < len(keys) {
			found[keys[i]] = []byte(str)
		}
	}
	return found, nil
}

func (s *redisStore) Set(ctx context.Context, key string, value []byte) error {
	return s.c.Set(ctx, key, value, 0).Err()
}

func (s *redisStore) Delete(ctx context.Context, key string) error {
	return s.c.Del(ctx, key).Err()
}

func (s *redisStore) Exists(ctx context.Context, key string) (bool, error) {
	n, err := s.c.Exists(ctx, key).Result()
	return n == 1, err
}

func (s *redisStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	// SCAN, not KEYS: KEYS blocks the server for the whole keyspace.
	pattern := globEscape(prefix) + "*"
	var keys []string
	iter := s.c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) > MaxKeysResult {
			return nil, fmt.Errorf("more than %d keys start with %q", MaxKeysResult, prefix)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	// SCAN may return a key twice (when the table is rehashed meanwhile).
	slices.Sort(keys)
	return slices.Compact(append([]string{}, keys...)), nil
}

// globEscape quotes the characters Redis's MATCH patterns treat specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *redisStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	n, err := s.c.IncrBy(ctx, key, delta).Result()
	if err != nil && strings.Contains(err.Error(), "not an integer") {
		return 0, ErrNotInteger
	}
	return n, err
}

// casScript swaps in one step on the server: Redis runs a script without
// interleaving any other command, so no client of any host can come
// between the comparison and the write.
var casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if cur then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1`)

func (s *redisStore) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	hasOld := "0"
	if old != nil {
		hasOld = "1"
	}
	n, err := casScript.Run(ctx, s.c, []string{key}, hasOld, old, new).Int()
	return n == 1, err
}

func (s *redisStore) Close() error { return s.c.Close() }

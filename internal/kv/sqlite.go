package kv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// sqliteStore keeps one table of key/value rows in a file. WAL mode lets
// readers run while a writer commits, and the busy timeout makes a writer
// of another process wait for the lock instead of failing: every prefork
// worker opens the same file.
type sqliteStore struct{ db *sql.DB }

// OpenSQLite opens (creating if needed) the store in the file at path.
func OpenSQLite(path string) (Store, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// _txlock=immediate takes the write lock when a transaction begins, so
	// two read-modify-write transactions never both read and then fail to
	// upgrade (SQLITE_BUSY, which busy_timeout cannot wait out).
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("key-value file %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = retryBusy(ctx, func() error {
		_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("key-value file %s: %w", path, err)
	}
	return &sqliteStore{db: db}, nil
}

// retryBusy runs op again while SQLite answers "database is locked", until
// ctx ends. busy_timeout covers most waits for another process's lock, but
// not all: the switch to WAL mode when prefork workers open a new file at
// the same moment, and a lock that is taken while a connection is being
// set up, fail at once with SQLITE_BUSY. The operations are transactions
// or single statements, so running one again is safe.
func retryBusy(ctx context.Context, op func() error) error {
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := op()
		if err == nil || !strings.Contains(err.Error(), "database is locked") && !strings.Contains(err.Error(), "SQLITE_BUSY") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (s *sqliteStore) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := retryBusy(ctx, func() error {
		return s.db.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ?`, key).Scan(&v)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if v == nil && err == nil {
		v = []byte{}
	}
	return v, err
}

func (s *sqliteStore) Set(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return retryBusy(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, key, value)
		return err
	})
}

func (s *sqliteStore) Delete(ctx context.Context, key string) error {
	return retryBusy(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `DELETE FROM kv WHERE k = ?`, key)
		return err
	})
}

func (s *sqliteStore) Exists(ctx context.Context, key string) (bool, error) {
	var one int
	err := retryBusy(ctx, func() error {
		return s.db.QueryRowContext(ctx, `SELECT 1 FROM kv WHERE k = ?`, key).Scan(&one)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (s *sqliteStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	// A range instead of LIKE: LIKE treats % and _ in the prefix as
	// patterns and folds ASCII case. TEXT compares bytewise (BINARY).
	query, args := `SELECT k FROM kv WHERE k >= ? ORDER BY k LIMIT ?`, []any{prefix, MaxKeysResult + 1}
	if end, ok := prefixEnd(prefix); ok {
		query, args = `SELECT k FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?`, []any{prefix, end, MaxKeysResult + 1}
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) > MaxKeysResult {
		return nil, fmt.Errorf("more than %d keys start with %q", MaxKeysResult, prefix)
	}
	return keys, rows.Err()
}

// prefixEnd returns the smallest string greater than every string with the
// prefix; ok is false when there is none (empty prefix, or all 0xff bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

func (s *sqliteStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0 // tx may run this again after SQLITE_BUSY
		var cur []byte
		err := tx.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ?`, key).Scan(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if n, err = strconv.ParseInt(string(cur), 10, 64); err != nil {
				return ErrNotInteger
			}
		}
		if (delta > 0 && n > maxInt64-delta) || (delta < 0 && n < minInt64-delta) {
			return errors.New("increment overflows int64")
		}
		n += delta
		_, err = tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`,
			key, []byte(strconv.FormatInt(n, 10)))
		return err
	})
	return n, err
}

const (
	maxInt64 = 1<<63 - 1
	minInt64 = -1 << 63
)

func (s *sqliteStore) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	if new == nil {
		new = []byte{}
	}
	var res sql.Result
	err := retryBusy(ctx, func() (err error) {
		if old == nil {
			res, err = s.db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING`, key, new)
		} else {
			// One UPDATE is atomic by itself: SQLite serializes writers.
			res, err = s.db.ExecContext(ctx, `UPDATE kv SET v = ? WHERE k = ? AND v = ?`, new, key, old)
		}
		return err
	})
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *sqliteStore) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return retryBusy(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

func (s *sqliteStore) Close() error { return s.db.Close() }

func (s *sqliteStore) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := checkGetMany(keys); err != nil {
		return nil, err
	}
	found := map[string][]byte{}
	if len(keys) == 0 {
		return found, nil
	}
	// One statement, so one snapshot: the values are from one moment.
	query := `SELECT k, v FROM kv WHERE k IN (?` + strings.Repeat(`,?`, len(keys)-1) + `)`
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	err := retryBusy(ctx, func() error {
		clear(found)
		return s.scanPairs(ctx, found, query, args)
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}

// scanPairs adds the rows of a key/value query to m, bounded in total.
func (s *sqliteStore) scanPairs(ctx context.Context, m map[string][]byte, query string, args []any) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	total := 0
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if v == nil {
			v = []byte{}
		}
		total += len(v)
		if err := checkGetManyTotal(total); err != nil {
			return err
		}
		m[k] = v
	}
	return rows.Err()
}

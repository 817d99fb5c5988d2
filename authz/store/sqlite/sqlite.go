// Package sqlite is the embedded store: one SQLite file through the pure-Go
// modernc.org/sqlite driver (no cgo).
//
// The file and its directory are created on first start and the schema is
// migrated at Open. The database runs in WAL mode with synchronous=FULL, so
// a transaction whose call returned survives a crash or power loss. Writes
// go through one connection (BEGIN IMMEDIATE, so a transaction never has to
// upgrade its lock and other processes wait on the busy timeout instead of
// failing); reads use a separate read-only pool and run concurrently.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/clearance-gw/clearance/authz/store"
)

// Store is the SQLite implementation of store.Store.
type Store struct {
	w    *sql.DB // one connection, every write
	r    *sql.DB // read-only pool
	path string

	// stmts are the prepared statements of the hot paths (see
	// prepared), each prepared once per connection of its pool.
	stmtMu sync.Mutex
	stmts  map[stmtKey]*sql.Stmt
	wanted map[string]bool // writer statements to prepare (txStmt)

	// clients is the view GetClient answers from; nil (the default)
	// reads every client from the database (see CacheClients).
	clients *clientCache
}

type stmtKey struct {
	pool  *sql.DB
	query string
}

var _ store.Store = (*Store)(nil)

// readers is the size of the read pool.
const readers = 4

// Open opens (creating it and its directory if needed) the database named
// by dsn, a file path optionally prefixed with "file:" and optionally
// followed by "?" and extra modernc.org/sqlite parameters, and applies any
// pending schema migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	path, extra, err := splitDSN(dsn)
	if err != nil {
		return nil, err
	}
	if err := create(path); err != nil {
		return nil, err
	}
	base := url.Values{}
	base.Add("_pragma", "busy_timeout(5000)")
	base.Add("_pragma", "foreign_keys(1)")
	base.Add("_pragma", "synchronous(FULL)")
	for k, vs := range extra {
		for _, v := range vs {
			base.Add(k, v)
		}
	}
	wq := cloneValues(base)
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Set("_txlock", "immediate")
	rq := cloneValues(base)
	rq.Add("_pragma", "query_only(1)")

	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{w: w, path: path}
	// Migrate before the readers open so they see WAL mode and the schema.
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s.r = r
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// splitDSN separates the file path from extra driver parameters.
func splitDSN(dsn string) (string, url.Values, error) {
	path, query, _ := strings.Cut(dsn, "?")
	path = strings.TrimPrefix(path, "file:")
	if path == "" {
		return "", nil, errors.New("open store: empty sqlite path")
	}
	if path == ":memory:" || strings.HasPrefix(path, ":memory:") || strings.Contains(query, "mode=memory") {
		return "", nil, errors.New("open store: an in-memory sqlite database loses every token on restart; give a file path")
	}
	extra, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, fmt.Errorf("open store: bad sqlite parameters %q: %w", query, err)
	}
	return path, extra, nil
}

// create makes the database directory and an empty file readable only by
// its owner (SQLite gives the -wal and -shm files the same mode).
func create(path string) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create store directory: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create store file: %w", err)
	}
	return f.Close()
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// Ping checks that both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// prepared returns query prepared on the read pool, preparing it the first
// time. Parsing a statement costs SQLite more than running a simple one,
// so the queries of every token request use this; database/sql prepares it
// again on each connection of the pool as needed. query must be a constant:
// statements are kept for the life of the store.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	k := stmtKey{s.r, query}
	s.stmtMu.Lock()
	st := s.stmts[k]
	s.stmtMu.Unlock()
	if st != nil {
		return st, nil
	}
	// Not under the lock: preparing waits for a free connection.
	st, err := s.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.keep(k, st), nil
}

// keep stores st under k unless another goroutine was first, and returns
// the one kept.
func (s *Store) keep(k stmtKey, st *sql.Stmt) *sql.Stmt {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if old, ok := s.stmts[k]; ok {
		st.Close()
		return old
	}
	if s.stmts == nil {
		s.stmts = map[stmtKey]*sql.Stmt{}
	}
	s.stmts[k] = st
	return st
}

// queryRow is s.r.QueryRowContext with query prepared once.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return s.r.QueryRowContext(ctx, query, args...) // the same error, from Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// txStmt returns query prepared on the writer, for use in tx; nil the first
// time: the writer's one connection is tx's until it ends, so the
// statement is prepared once the transaction is over (prepareWanted).
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	st := s.stmts[stmtKey{s.w, query}]
	if st == nil {
		if s.wanted == nil {
			s.wanted = map[string]bool{}
		}
		s.wanted[query] = true
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// txQueryRow is tx.QueryRowContext, prepared once query ran before.
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := s.txStmt(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// txExec is tx.ExecContext, prepared once query ran before.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.txStmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// prepareWanted prepares on the writer the statements transactions asked
// for (txStmt); called with no transaction of the caller's open. A failure
// leaves the query to run unprepared.
func (s *Store) prepareWanted(ctx context.Context) {
	s.stmtMu.Lock()
	wanted := s.wanted
	s.wanted = nil
	s.stmtMu.Unlock()
	for q := range wanted {
		if st, err := s.w.PrepareContext(ctx, q); err == nil {
			s.keep(stmtKey{s.w, q}, st)
		}
	}
}

// Close closes both pools, checkpointing the WAL.
func (s *Store) Close() error {
	var errs []error
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	if s.clients != nil {
		errs = append(errs, s.clients.close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// write runs fn in one immediate transaction on the writer and commits it
// when fn returns nil. Errors are wrapped with the action.
func (s *Store) write(ctx context.Context, action string, fn func(tx *sql.Tx) error) error {
	// Whatever fn wrote, and whether or not it committed, no client read
	// before is answered from memory after this returns.
	defer s.forgetClients()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("%s: %w", action, classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	s.prepareWanted(ctx)
	return nil
}

// classify maps constraint violations to store errors, keeping the driver
// error in the chain.
func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fmt.Errorf("%w (%w)", store.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w (%w)", store.ErrNotFound, err)
	}
	return err
}

// Times are stored as integer microseconds since the Unix epoch (UTC);
// optional times are NULL when zero.

func micros(t time.Time) int64 { return t.UnixMicro() }

func optMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromOptMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

func optBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

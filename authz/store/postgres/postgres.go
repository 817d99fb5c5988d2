// Package postgres is the shared store: one PostgreSQL database that
// several gateway instances use at once (jackc/pgx/v5 through pgxpool).
//
// Every call runs under a timeout (Options.Timeout), so a database that has
// gone away costs a caller at most that long, never a hang. The schema is
// migrated at Open, in one transaction under an advisory lock, so instances
// starting together on an empty database migrate it once; a database of a
// newer binary is refused.
//
// Writes run in READ COMMITTED transactions with explicit locks where two
// instances could race: the row of a refresh token or authorization code is
// locked before it is judged (of concurrent rotations or exchanges exactly
// one wins), the one namespace of client ids and user names is guarded by
// an advisory lock, and every transaction that records a revocation holds
// the revocation lock exclusively from its start, so revocation Seq values
// commit in order (a poller that remembers the highest Seq it saw misses
// nothing). Creating a session holds that lock shared, so it cannot slip
// past the tombstone of a replayed code.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearance-gw/clearance/authz/store"
)

// Advisory lock keys (pg_advisory_*lock), one per cluster-wide critical
// section. The high bits spell "clr" so they do not collide with another
// application's keys in a shared database.
const (
	lockMigrate     int64 = 0x636c720000000001
	lockRevocations int64 = 0x636c720000000002
	lockNS          int64 = 0x636c720000000003
	lockChanges     int64 = 0x636c720000000004
)

// DefaultTimeout bounds every store call when Options.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// Options configure a Store. The zero value is usable.
type Options struct {
	// Timeout bounds every call (a query, or a whole transaction);
	// DefaultTimeout when 0.
	Timeout time.Duration
	// Logger receives notes of the change listener; discarded when nil.
	Logger *slog.Logger
}

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	log     *slog.Logger
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string) and applies any pending schema migrations.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("open postgres store: the DSN cannot be parsed (want postgres://user:password@host:port/database)")
	}
	s := &Store{timeout: opts.Timeout, log: opts.Logger}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > s.timeout {
		cfg.ConnConfig.ConnectTimeout = s.timeout
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	cfg.HealthCheckPeriod = time.Second
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return s, nil
}

// Ping reports whether the database answers within a second (or the
// store's timeout, when shorter), so /readyz turns unready fast.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(s.timeout, time.Second))
	defer cancel()
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping store: %w", classify(err))
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// bound gives ctx the store's timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// writeMode says which advisory lock a write transaction takes first, and
// whether its commit wakes the other instances (see Changes).
type writeMode int

const (
	noLock        writeMode = 0
	lockRevoke    writeMode = 1 << iota // the revocation lock, exclusive
	lockRevShared                       // the revocation lock, shared
	lockNamespace                       // the client id / user name namespace
	notify                              // other instances' in-memory views change
	changes                             // records a store.Change: the changes lock, exclusive, second

	revokes       = lockRevoke | notify
	createSession = lockRevShared
	namespace     = lockNamespace | notify
)

// write runs fn in one transaction and commits it when fn returns nil,
// taking the advisory lock mode names first (so it is always the first
// lock a transaction holds, and two of them cannot deadlock on it). A
// deadlock or serialization failure is retried. Errors are wrapped with
// the action.
func (s *Store) write(ctx context.Context, action string, mode writeMode, fn func(tx pgx.Tx) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var err error
	for range 5 {
		err = s.tryWrite(ctx, mode, fn)
		if !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", action, classify(err))
	}
	return nil
}

func (s *Store) tryWrite(ctx context.Context, mode writeMode, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	switch {
	case mode&lockRevoke != 0:
		_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockRevocations)
	case mode&lockRevShared != 0:
		_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, lockRevocations)
	case mode&lockNamespace != 0:
		_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockNS)
	}
	if err != nil {
		return err
	}
	// Second, after the mode's lock and before any row lock, so the order
	// is the same in every transaction: change seq values commit in order.
	if mode&changes != 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockChanges); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if mode&notify != 0 {
		// Delivered at commit, and only then.
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, channel); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// retryable reports a deadlock or serialization failure: the transaction
// was rolled back and can run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// classify maps constraint violations to store errors, keeping the driver
// error in the chain.
func classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return unavailable(err)
	}
	switch pe.Code {
	case "23505": // unique_violation
		return fmt.Errorf("%w (%w)", store.ErrConflict, err)
	case "23503": // foreign_key_violation
		return fmt.Errorf("%w (%w)", store.ErrNotFound, err)
	}
	// Class 08: connection exception; 57P01-03: the server is shutting
	// down or cannot accept connections yet.
	if strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") {
		return fmt.Errorf("%w (%w)", store.ErrUnavailable, err)
	}
	return err
}

// unavailable marks a failure to reach the database in time (no answer,
// a refused or broken connection, a timeout) as store.ErrUnavailable;
// store errors and answers of the database pass unchanged.
func unavailable(err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil, errors.As(err, &pe), errors.Is(err, pgx.ErrNoRows),
		errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrExpired),
		errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrRefreshReused), errors.Is(err, store.ErrCodeReused),
		errors.Is(err, errLockFirst), errors.Is(err, context.Canceled):
		return err
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || errors.As(err, &ce) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "closed pool") || strings.Contains(err.Error(), "conn closed") {
		return fmt.Errorf("%w (%w)", store.ErrUnavailable, err)
	}
	return err
}

// Times are timestamptz (microsecond precision); optional times are NULL
// when zero. Values read back are converted to UTC.

func utc(t time.Time) time.Time { return t.UTC() }

func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func fromOpt(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func optBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// oneRow turns "no row affected" into store.ErrNotFound.
func oneRow(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

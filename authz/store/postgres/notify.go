package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// channel is the LISTEN/NOTIFY channel on which every write that changes
// what instances hold in memory (revocations, clients and their origins,
// users' entitlements, signing keys, subscriptions) is announced at commit.
const channel = "clearance_changes"

// Watch calls wake whenever another instance (or this one) commits a change
// that in-memory views should pick up, until ctx ends. It holds one
// connection that LISTENs; when that connection is lost it reconnects every
// retry, and calls wake once it is back (changes may have been missed
// meanwhile: the caller resyncs). wake must not block for long: the
// notifications of a burst are coalesced while it runs.
//
// LISTEN/NOTIFY is the fast path; callers keep polling as the fallback for
// the time the listener is down.
func (s *Store) Watch(ctx context.Context, retry time.Duration, wake func()) {
	if retry <= 0 {
		retry = time.Second
	}
	cfg := s.pool.Config().ConnConfig.Copy()
	for ctx.Err() == nil {
		err := s.listen(ctx, cfg, wake)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("change listener lost its connection; polling until it is back", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig, wake func()) error {
	cctx, cancel := s.bound(ctx)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err == nil {
		_, err = conn.Exec(cctx, "LISTEN "+channel)
	}
	cancel()
	if err != nil {
		if conn != nil {
			conn.Close(context.Background())
		}
		return fmt.Errorf("listen for changes: %w", err)
	}
	defer conn.Close(context.Background())
	wake() // whatever happened while nobody listened
	for {
		// A bounded wait doubles as a liveness check of the connection.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			wake()
			continue
		case wctx.Err() != nil:
			pctx, cancel := s.bound(ctx)
			err = conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
		}
		return fmt.Errorf("listen for changes: %w", err)
	}
}

// WithLock runs fn while holding the cluster-wide lock called name (a
// session advisory lock on a connection of its own), so that one instance
// at a time does what fn does: two instances starting at once on an empty
// database must not each generate a first signing key.
func (s *Store) WithLock(ctx context.Context, name string, fn func(context.Context) error) error {
	h := fnv.New64a()
	h.Write([]byte(name))
	key := int64(h.Sum64() &^ (1 << 63))
	lctx, cancel := s.bound(ctx)
	conn, err := s.pool.Acquire(lctx)
	if err != nil {
		cancel()
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer conn.Release()
	_, err = conn.Exec(lctx, `SELECT pg_advisory_lock($1)`, key)
	cancel()
	if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer func() {
		uctx, cancel := s.bound(context.WithoutCancel(ctx))
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// A connection that cannot unlock must not go back to the pool
			// holding the lock.
			conn.Conn().Close(uctx) //nolint:errcheck
		}
	}()
	return fn(ctx)
}

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/clearance-gw/clearance/authz/store"
)

// recordChange appends a change to the feed, in the caller's transaction,
// which holds the changes lock (write mode changes).
func recordChange(ctx context.Context, tx pgx.Tx, kind, key string) error {
	_, err := tx.Exec(ctx, `INSERT INTO changes (kind, key) VALUES ($1, $2)`, kind, key)
	return err
}

// ChangesSince implements store.Changes. Changes are recorded under the
// changes lock, so their seq values commit in order. A sequence may skip a
// value (a rolled-back insert): a first row kept past seq+1 is then taken
// for pruning, and the follower loads whole once more than it had to.
func (s *Store) ChangesSince(ctx context.Context, seq int64) ([]store.Change, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var oldest *int64
	if err := s.pool.QueryRow(ctx, `SELECT MIN(seq) FROM changes`).Scan(&oldest); err != nil {
		return nil, fmt.Errorf("list changes: %w", classify(err))
	}
	if oldest != nil && *oldest > seq+1 {
		return nil, fmt.Errorf("list changes since %d: %w", seq, store.ErrChangesPruned)
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, kind, key FROM changes WHERE seq > $1 ORDER BY seq`, seq)
	if err != nil {
		return nil, fmt.Errorf("list changes: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Change, error) {
		var c store.Change
		err := row.Scan(&c.Seq, &c.Kind, &c.Key)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list changes: %w", classify(err))
	}
	return out, nil
}

// LatestChange implements store.Changes.
func (s *Store) LatestChange(ctx context.Context) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var seq *int64
	if err := s.pool.QueryRow(ctx, `SELECT MAX(seq) FROM changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("latest change: %w", classify(err))
	}
	if seq == nil {
		return 0, nil
	}
	return *seq, nil
}

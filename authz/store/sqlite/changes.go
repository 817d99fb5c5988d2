package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/clearance-gw/clearance/authz/store"
)

// recordChange appends a change to the feed, in the caller's transaction.
func recordChange(ctx context.Context, tx *sql.Tx, kind, key string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, key) VALUES (?, ?)`, kind, key)
	return err
}

// ChangesSince implements store.Changes. The single writer commits
// changes in seq order, so a reader never sees a gap fill in later.
func (s *Store) ChangesSince(ctx context.Context, seq int64) ([]store.Change, error) {
	var oldest sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MIN(seq) FROM changes`).Scan(&oldest); err != nil {
		return nil, fmt.Errorf("list changes: %w", err)
	}
	// Seq values count up from 1 without gaps (one writer, AUTOINCREMENT):
	// a first row kept past seq+1 means the ones between were pruned.
	if oldest.Valid && oldest.Int64 > seq+1 {
		s.forgetClients()
		return nil, fmt.Errorf("list changes since %d: %w", seq, store.ErrChangesPruned)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, kind, key FROM changes WHERE seq > ? ORDER BY seq`, seq)
	if err != nil {
		return nil, fmt.Errorf("list changes: %w", err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		var c store.Change
		if err := rows.Scan(&c.Seq, &c.Kind, &c.Key); err != nil {
			return nil, fmt.Errorf("list changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list changes: %w", err)
	}
	if len(out) > 0 {
		// The follower reads the changed clients next: from the database.
		s.forgetClients()
	}
	return out, nil
}

// LatestChange implements store.Changes.
func (s *Store) LatestChange(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).Scan(&seq); err != nil && err != sql.ErrNoRows {
		return 0, fmt.Errorf("latest change: %w", err)
	}
	return seq.Int64, nil
}

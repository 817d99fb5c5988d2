package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearance-gw/clearance/authz/store"
)

// utcDay is t's UTC calendar day as a date at midnight UTC.
func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// AddUsage implements store.Usage. Every instance adds its own counts:
// the upsert adds to what the others wrote, so the totals are shared.
func (s *Store) AddUsage(ctx context.Context, counts []store.UsageCount) error {
	return s.write(ctx, "add usage", 0, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, c := range counts {
			if c.Count <= 0 {
				continue
			}
			b.Queue(`INSERT INTO usage (key, day, count) VALUES ($1, $2, $3)
				ON CONFLICT (key, day) DO UPDATE SET count = usage.count + excluded.count`,
				c.Key, utcDay(c.Day), c.Count)
		}
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, &b).Close()
	})
}

// UsageSince implements store.Usage.
func (s *Store) UsageSince(ctx context.Context, key string, from time.Time) ([]store.UsageCount, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT day, count FROM usage WHERE key = $1 AND day >= $2 ORDER BY day`,
		key, utcDay(from))
	if err != nil {
		return nil, fmt.Errorf("usage of %q: %w", key, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.UsageCount, error) {
		c := store.UsageCount{Key: key}
		err := r.Scan(&c.Day, &c.Count)
		c.Day = utcDay(c.Day)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("usage of %q: %w", key, classify(err))
	}
	return out, nil
}

// UsageTotals implements store.Usage.
func (s *Store) UsageTotals(ctx context.Context, keys []string, day time.Time) (map[string]store.UsageTotal, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	today := utcDay(day)
	first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	q := `SELECT key, SUM(CASE WHEN day = $1 THEN count ELSE 0 END)::bigint, SUM(count)::bigint
		FROM usage WHERE day >= $2 AND day <= $1`
	args := []any{today, first}
	if keys != nil {
		q += ` AND key = ANY($3)`
		args = append(args, keys)
	}
	rows, err := s.pool.Query(ctx, q+` GROUP BY key`, args...)
	if err != nil {
		return nil, fmt.Errorf("usage totals: %w", classify(err))
	}
	defer rows.Close()
	out := map[string]store.UsageTotal{}
	for rows.Next() {
		var (
			k string
			t store.UsageTotal
		)
		if err := rows.Scan(&k, &t.Day, &t.Month); err != nil {
			return nil, fmt.Errorf("usage totals: %w", classify(err))
		}
		out[k] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage totals: %w", classify(err))
	}
	return out, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

// dayLayout is how usage.day is written: a month is then the range
// [YYYY-MM-01, YYYY-MM-DD] of the primary key.
const dayLayout = "2006-01-02"

func dayString(t time.Time) string { return t.UTC().Format(dayLayout) }

// AddUsage implements store.Usage.
func (s *Store) AddUsage(ctx context.Context, counts []store.UsageCount) error {
	return s.write(ctx, "add usage", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO usage (key, day, count) VALUES (?, ?, ?)
			ON CONFLICT (key, day) DO UPDATE SET count = count + excluded.count`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range counts {
			if c.Count <= 0 {
				continue
			}
			if _, err := stmt.ExecContext(ctx, c.Key, dayString(c.Day), c.Count); err != nil {
				return err
			}
		}
		return nil
	})
}

// UsageSince implements store.Usage.
func (s *Store) UsageSince(ctx context.Context, key string, from time.Time) ([]store.UsageCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT day, count FROM usage WHERE key = ? AND day >= ? ORDER BY day`,
		key, dayString(from))
	if err != nil {
		return nil, fmt.Errorf("usage of %q: %w", key, err)
	}
	defer rows.Close()
	var out []store.UsageCount
	for rows.Next() {
		var day string
		c := store.UsageCount{Key: key}
		if err := rows.Scan(&day, &c.Count); err != nil {
			return nil, fmt.Errorf("usage of %q: %w", key, err)
		}
		if c.Day, err = time.Parse(dayLayout, day); err != nil {
			return nil, fmt.Errorf("usage of %q: corrupt day %q", key, day)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage of %q: %w", key, err)
	}
	return out, nil
}

// usageKeysPerQuery bounds the keys of one UsageTotals statement (SQLite
// allows 32766 parameters; smaller statements keep the reader short).
const usageKeysPerQuery = 500

// UsageTotals implements store.Usage.
func (s *Store) UsageTotals(ctx context.Context, keys []string, day time.Time) (map[string]store.UsageTotal, error) {
	d := day.UTC()
	today, first := dayString(d), dayString(time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC))
	out := map[string]store.UsageTotal{}
	query := func(where string, args ...any) error {
		rows, err := s.r.QueryContext(ctx, `SELECT key,
				SUM(CASE WHEN day = ? THEN count ELSE 0 END), SUM(count)
			FROM usage WHERE day >= ? AND day <= ?`+where+` GROUP BY key`,
			append([]any{today, first, today}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var t store.UsageTotal
			if err := rows.Scan(&k, &t.Day, &t.Month); err != nil {
				return err
			}
			out[k] = t
		}
		return rows.Err()
	}
	if keys == nil {
		if err := query(""); err != nil {
			return nil, fmt.Errorf("usage totals: %w", err)
		}
		return out, nil
	}
	for len(keys) > 0 {
		n := min(len(keys), usageKeysPerQuery)
		args := make([]any, n)
		for i, k := range keys[:n] {
			args[i] = k
		}
		if err := query(" AND key IN (?"+strings.Repeat(", ?", n-1)+")", args...); err != nil {
			return nil, fmt.Errorf("usage totals: %w", err)
		}
		keys = keys[n:]
	}
	return out, nil
}

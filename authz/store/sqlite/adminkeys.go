package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/clearance-gw/clearance/authz/store"
)

// CreateAdminKey implements store.AdminKeys.
func (s *Store) CreateAdminKey(ctx context.Context, k store.AdminKey) error {
	return s.write(ctx, fmt.Sprintf("create admin key %q", k.Name), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO admin_keys (name, hash, created_at) VALUES (?, ?, ?)`,
			k.Name, nonNil(k.Hash), micros(k.CreatedAt))
		return err
	})
}

// ListAdminKeys implements store.AdminKeys.
func (s *Store) ListAdminKeys(ctx context.Context) ([]store.AdminKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, hash, created_at FROM admin_keys ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list admin keys: %w", err)
	}
	defer rows.Close()
	var out []store.AdminKey
	for rows.Next() {
		var (
			k       store.AdminKey
			created int64
		)
		if err := rows.Scan(&k.Name, &k.Hash, &created); err != nil {
			return nil, fmt.Errorf("list admin keys: %w", err)
		}
		k.CreatedAt = fromMicros(created)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list admin keys: %w", err)
	}
	return out, nil
}

// DeleteAdminKey implements store.AdminKeys.
func (s *Store) DeleteAdminKey(ctx context.Context, name string) error {
	return s.write(ctx, fmt.Sprintf("delete admin key %q", name), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM admin_keys WHERE name = ?`, name)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/clearance-gw/clearance/authz/store"
)

// CreateAdminKey implements store.AdminKeys.
func (s *Store) CreateAdminKey(ctx context.Context, k store.AdminKey) error {
	return s.write(ctx, fmt.Sprintf("create admin key %q", k.Name), notify, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO admin_keys (name, hash, created_at) VALUES ($1, $2, $3)`,
			k.Name, nonNilBytes(k.Hash), k.CreatedAt)
		return err
	})
}

// ListAdminKeys implements store.AdminKeys.
func (s *Store) ListAdminKeys(ctx context.Context) ([]store.AdminKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT name, hash, created_at FROM admin_keys ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list admin keys: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AdminKey, error) {
		var k store.AdminKey
		err := r.Scan(&k.Name, &k.Hash, &k.CreatedAt)
		k.CreatedAt = utc(k.CreatedAt)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list admin keys: %w", classify(err))
	}
	return out, nil
}

// DeleteAdminKey implements store.AdminKeys.
func (s *Store) DeleteAdminKey(ctx context.Context, name string) error {
	return s.write(ctx, fmt.Sprintf("delete admin key %q", name), notify, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM admin_keys WHERE name = $1`, name)
		if err != nil {
			return err
		}
		return oneRow(tag)
	})
}

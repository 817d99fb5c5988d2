package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearance-gw/clearance/authz/store"
)

const userColumns = `name, password_hash, admin, created_at, scopes, plan`

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.write(ctx, fmt.Sprintf("create user %q", u.Name), namespace, func(tx pgx.Tx) error {
		// One namespace with client ids: the namespace lock makes the
		// check and the insert one step for every instance.
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM clients WHERE `+foldExpr("id")+` = $1 LIMIT 1`,
			store.FoldName(u.Name)).Scan(&id)
		switch {
		case err == nil:
			return &store.NameTakenError{Name: u.Name, TakenBy: "client", TakenName: id}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		created, err := createdAfterCutoffs(ctx, tx, u.Name, u.CreatedAt)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.Name, u.PasswordHash, u.Admin, created, nonNil(u.Scopes), u.Plan)
		return err
	})
}

// UpdateUser implements store.Users.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	return s.write(ctx, fmt.Sprintf("update user %q", u.Name), notify|changes, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1, admin = $2, scopes = $3, plan = $4 WHERE name = $5`,
			u.PasswordHash, u.Admin, nonNil(u.Scopes), u.Plan, u.Name)
		if err != nil {
			return err
		}
		if err := oneRow(tag); err != nil {
			return err
		}
		return recordChange(ctx, tx, store.ChangeUser, u.Name)
	})
}

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	if err := row.Scan(&u.Name, &u.PasswordHash, &u.Admin, &u.CreatedAt, &u.Scopes, &u.Plan); err != nil {
		return u, err
	}
	u.CreatedAt = utc(u.CreatedAt)
	return u, nil
}

// GetUser implements store.Users.
func (s *Store) GetUser(ctx context.Context, name string) (store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", name, classify(err))
	}
	return u, nil
}

// ListUsers implements store.Users.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("list users: %w", classify(err))
	}
	return out, nil
}

// DeleteUser implements store.Users.
func (s *Store) DeleteUser(ctx context.Context, name string, now time.Time, maxTokenLifetime time.Duration) error {
	return s.write(ctx, fmt.Sprintf("delete user %q", name), revokes|changes, func(tx pgx.Tx) error {
		var created time.Time
		err := tx.QueryRow(ctx, `DELETE FROM users WHERE name = $1 RETURNING created_at`, name).Scan(&created)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM clients WHERE owner = $1 ORDER BY id`, name)
		if err != nil {
			return err
		}
		owned, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range owned {
			if err := deleteClient(ctx, tx, id, now, maxTokenLifetime); err != nil {
				return fmt.Errorf("client %q: %w", id, classify(err))
			}
		}
		// The user's sessions on other clients (a first-party client of
		// the password grant, another owner's client of the code flow).
		for _, q := range []string{
			`INSERT INTO revocations (jti, session_id, expires_at)
				SELECT '', id, expires_at FROM sessions
				WHERE subject = $1 AND revoked_at IS NULL AND expires_at > $2
				ORDER BY created_at, id`,
			`UPDATE sessions SET revoked_at = $2 WHERE subject = $1 AND revoked_at IS NULL`,
		} {
			if _, err := tx.Exec(ctx, q, name, now); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`DELETE FROM auth_codes WHERE subject = $1`,
			`DELETE FROM subscriptions WHERE user_name = $1`,
		} {
			if _, err := tx.Exec(ctx, q, name); err != nil {
				return err
			}
		}
		if err := insertCutoff(ctx, tx, "", name, store.CutoffAt(now, created), maxTokenLifetime); err != nil {
			return err
		}
		return recordChange(ctx, tx, store.ChangeUser, name)
	})
}

// AddSigningKey implements store.SigningKeys.
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	return s.write(ctx, fmt.Sprintf("add signing key %q", k.ID), notify, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys
			(kid, alg, public_jwk, private_sealed, created_at, retired_at, drop_after)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			k.ID, k.Alg, nonNilBytes(k.PublicJWK), nonNilBytes(k.PrivateSealed), k.CreatedAt,
			optTime(k.RetiredAt), optTime(k.DropAfter))
		return err
	})
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ListSigningKeys implements store.SigningKeys.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT kid, alg, public_jwk, private_sealed, created_at, retired_at, drop_after
		FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.SigningKey, error) {
		var (
			k                store.SigningKey
			retired, dropped *time.Time
		)
		err := r.Scan(&k.ID, &k.Alg, &k.PublicJWK, &k.PrivateSealed, &k.CreatedAt, &retired, &dropped)
		k.CreatedAt, k.RetiredAt, k.DropAfter = utc(k.CreatedAt), fromOpt(retired), fromOpt(dropped)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", classify(err))
	}
	return out, nil
}

// RetireSigningKey implements store.SigningKeys.
func (s *Store) RetireSigningKey(ctx context.Context, kid string, retiredAt, dropAfter time.Time) error {
	return s.write(ctx, fmt.Sprintf("retire signing key %q", kid), notify, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1, drop_after = $2 WHERE kid = $3`,
			optTime(retiredAt), optTime(dropAfter), kid)
		if err != nil {
			return err
		}
		return oneRow(tag)
	})
}

// AddSubscription implements store.Subscriptions.
func (s *Store) AddSubscription(ctx context.Context, sub store.Subscription) (store.Subscription, error) {
	err := s.write(ctx, fmt.Sprintf("add subscription for %q", sub.User), notify, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO subscriptions (user_name, type, name, date_active, date_expiry)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			sub.User, sub.Type, sub.Name, sub.DateActive, sub.DateExpiry).Scan(&sub.ID)
	})
	if err != nil {
		return store.Subscription{}, err
	}
	return sub, nil
}

// ListSubscriptions implements store.Subscriptions.
func (s *Store) ListSubscriptions(ctx context.Context, user string) ([]store.Subscription, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT id, user_name, type, name, date_active, date_expiry
		FROM subscriptions WHERE user_name = $1 ORDER BY id`, user)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions of %q: %w", user, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Subscription, error) {
		var sub store.Subscription
		err := r.Scan(&sub.ID, &sub.User, &sub.Type, &sub.Name, &sub.DateActive, &sub.DateExpiry)
		sub.DateActive, sub.DateExpiry = utc(sub.DateActive), utc(sub.DateExpiry)
		return sub, err
	})
	if err != nil {
		return nil, fmt.Errorf("list subscriptions of %q: %w", user, classify(err))
	}
	return out, nil
}

// RemoveSubscription implements store.Subscriptions.
func (s *Store) RemoveSubscription(ctx context.Context, id int64) error {
	return s.write(ctx, fmt.Sprintf("remove subscription %d", id), notify, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM subscriptions WHERE id = $1`, id)
		if err != nil {
			return err
		}
		return oneRow(tag)
	})
}

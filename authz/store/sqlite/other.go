package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

const userColumns = `name, password_hash, admin, created_at, scopes, plan`

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	scopes, err := jsonList(u.Scopes)
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Name, err)
	}
	return s.write(ctx, fmt.Sprintf("create user %q", u.Name), func(tx *sql.Tx) error {
		// One namespace with client ids, checked in this transaction (the
		// single writer makes the check and the insert one step).
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM clients WHERE `+foldExpr("id")+` = ? LIMIT 1`,
			store.FoldName(u.Name)).Scan(&id)
		switch {
		case err == nil:
			return &store.NameTakenError{Name: u.Name, TakenBy: "client", TakenName: id}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		created, err := createdAfterCutoffs(ctx, tx, u.Name, u.CreatedAt)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			u.Name, u.PasswordHash, boolInt(u.Admin), micros(created), scopes, u.Plan)
		return err
	})
}

// UpdateUser implements store.Users.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	scopes, err := jsonList(u.Scopes)
	if err != nil {
		return fmt.Errorf("update user %q: %w", u.Name, err)
	}
	return s.write(ctx, fmt.Sprintf("update user %q", u.Name), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, admin = ?, scopes = ?, plan = ? WHERE name = ?`,
			u.PasswordHash, boolInt(u.Admin), scopes, u.Plan, u.Name)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		return recordChange(ctx, tx, store.ChangeUser, u.Name)
	})
}

// jsonList encodes a list column: a JSON array, never null.
func jsonList(l []string) (string, error) {
	if l == nil {
		l = []string{}
	}
	b, err := json.Marshal(l)
	return string(b), err
}

func scanUser(row scanner) (store.User, error) {
	var (
		u         store.User
		admin, at int64
		scopes    string
	)
	if err := row.Scan(&u.Name, &u.PasswordHash, &admin, &at, &scopes, &u.Plan); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(scopes), &u.Scopes); err != nil {
		return u, fmt.Errorf("user %q: corrupt scopes column: %w", u.Name, err)
	}
	u.Admin, u.CreatedAt = admin != 0, fromMicros(at)
	return u, nil
}

// GetUser implements store.Users.
func (s *Store) GetUser(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", name, err)
	}
	return u, nil
}

// ListUsers implements store.Users.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// DeleteUser implements store.Users.
func (s *Store) DeleteUser(ctx context.Context, name string, now time.Time, maxTokenLifetime time.Duration) error {
	return s.write(ctx, fmt.Sprintf("delete user %q", name), func(tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx, `DELETE FROM users WHERE name = ? RETURNING created_at`, name).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		owned, err := ownedClients(ctx, tx, name)
		if err != nil {
			return err
		}
		for _, id := range owned {
			if err := deleteClient(ctx, tx, id, now, maxTokenLifetime); err != nil {
				return fmt.Errorf("client %q: %w", id, err)
			}
		}
		// The user's sessions on other clients (a first-party client of
		// the password grant, another owner's client of the code flow).
		for _, q := range []string{
			`INSERT INTO revocations (jti, session_id, expires_at)
				SELECT '', id, expires_at FROM sessions
				WHERE subject = ?1 AND revoked_at IS NULL AND expires_at > ?2
				ORDER BY created_at, id`,
			`UPDATE sessions SET revoked_at = ?2 WHERE subject = ?1 AND revoked_at IS NULL`,
			`DELETE FROM auth_codes WHERE subject = ?1`,
			`DELETE FROM subscriptions WHERE user = ?1`,
		} {
			if _, err := tx.ExecContext(ctx, q, name, micros(now)); err != nil {
				return err
			}
		}
		if err := insertCutoff(ctx, tx, "", name, store.CutoffAt(now, fromMicros(created)), maxTokenLifetime); err != nil {
			return err
		}
		return recordChange(ctx, tx, store.ChangeUser, name)
	})
}

func ownedClients(ctx context.Context, tx *sql.Tx, owner string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM clients WHERE owner = ? ORDER BY id`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// AddSigningKey implements store.SigningKeys.
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	return s.write(ctx, fmt.Sprintf("add signing key %q", k.ID), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys
			(kid, alg, public_jwk, private_sealed, created_at, retired_at, drop_after)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Alg, nonNil(k.PublicJWK), nonNil(k.PrivateSealed), micros(k.CreatedAt),
			optMicros(k.RetiredAt), optMicros(k.DropAfter))
		return err
	})
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ListSigningKeys implements store.SigningKeys.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT kid, alg, public_jwk, private_sealed, created_at, retired_at, drop_after
		FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var (
			k                store.SigningKey
			created          int64
			retired, dropped sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Alg, &k.PublicJWK, &k.PrivateSealed, &created, &retired, &dropped); err != nil {
			return nil, fmt.Errorf("list signing keys: %w", err)
		}
		k.CreatedAt, k.RetiredAt, k.DropAfter = fromMicros(created), fromOptMicros(retired), fromOptMicros(dropped)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return out, nil
}

// RetireSigningKey implements store.SigningKeys.
func (s *Store) RetireSigningKey(ctx context.Context, kid string, retiredAt, dropAfter time.Time) error {
	return s.write(ctx, fmt.Sprintf("retire signing key %q", kid), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ?, drop_after = ? WHERE kid = ?`,
			optMicros(retiredAt), optMicros(dropAfter), kid)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}

// AddSubscription implements store.Subscriptions.
func (s *Store) AddSubscription(ctx context.Context, sub store.Subscription) (store.Subscription, error) {
	err := s.write(ctx, fmt.Sprintf("add subscription for %q", sub.User), func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO subscriptions (user, type, name, date_active, date_expiry)
			VALUES (?, ?, ?, ?, ?) RETURNING id`,
			sub.User, sub.Type, sub.Name, micros(sub.DateActive), micros(sub.DateExpiry)).Scan(&sub.ID)
	})
	if err != nil {
		return store.Subscription{}, err
	}
	return sub, nil
}

// ListSubscriptions implements store.Subscriptions.
func (s *Store) ListSubscriptions(ctx context.Context, user string) ([]store.Subscription, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, user, type, name, date_active, date_expiry
		FROM subscriptions WHERE user = ? ORDER BY id`, user)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions of %q: %w", user, err)
	}
	defer rows.Close()
	var out []store.Subscription
	for rows.Next() {
		var (
			sub         store.Subscription
			active, exp int64
		)
		if err := rows.Scan(&sub.ID, &sub.User, &sub.Type, &sub.Name, &active, &exp); err != nil {
			return nil, fmt.Errorf("list subscriptions of %q: %w", user, err)
		}
		sub.DateActive, sub.DateExpiry = fromMicros(active), fromMicros(exp)
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list subscriptions of %q: %w", user, err)
	}
	return out, nil
}

// RemoveSubscription implements store.Subscriptions.
func (s *Store) RemoveSubscription(ctx context.Context, id int64) error {
	return s.write(ctx, fmt.Sprintf("remove subscription %d", id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}

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

const clientColumns = `id, name, secret_hash, grants, scopes, redirect_uris, allowed_origins,
	first_party, owner, access_ttl, refresh_ttl, created_at, portal_made, plan`

// clientArgs returns the column values of c in clientColumns order.
func clientArgs(c store.Client) ([]any, error) {
	lists := make([]any, 0, 4)
	for _, l := range [][]string{c.Grants, c.Scopes, c.RedirectURIs, c.AllowedOrigins} {
		if l == nil {
			l = []string{}
		}
		b, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		lists = append(lists, string(b))
	}
	return []any{c.ID, c.Name, optBytes(c.SecretHash), lists[0], lists[1], lists[2], lists[3],
		boolInt(c.FirstParty), c.Owner, int64(c.AccessTTL), int64(c.RefreshTTL), micros(c.CreatedAt),
		boolInt(c.PortalMade), c.Plan}, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanClient(row scanner) (store.Client, error) {
	var (
		c                                                 store.Client
		grants, scopes, redirects, origins                string
		firstParty, accessTTL, refreshTTL, at, portalMade int64
	)
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &grants, &scopes, &redirects, &origins,
		&firstParty, &c.Owner, &accessTTL, &refreshTTL, &at, &portalMade, &c.Plan); err != nil {
		return c, err
	}
	for _, f := range []struct {
		src string
		dst *[]string
	}{{grants, &c.Grants}, {scopes, &c.Scopes}, {redirects, &c.RedirectURIs}, {origins, &c.AllowedOrigins}} {
		if err := decodeList(f.src, f.dst); err != nil {
			return c, fmt.Errorf("client %q: corrupt list column: %w", c.ID, err)
		}
	}
	c.FirstParty, c.PortalMade = firstParty != 0, portalMade != 0
	c.AccessTTL, c.RefreshTTL = time.Duration(accessTTL), time.Duration(refreshTTL)
	c.CreatedAt = fromMicros(at)
	return c, nil
}

// CreateClient implements store.Clients.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return fmt.Errorf("create client %q: %w", c.ID, err)
	}
	return s.write(ctx, fmt.Sprintf("create client %q", c.ID), func(tx *sql.Tx) error {
		if err := userNameFree(ctx, tx, c.ID); err != nil {
			return err
		}
		if err := setCreated(ctx, tx, c, args); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return err
		}
		return recordChange(ctx, tx, store.ChangeClient, c.ID)
	})
}

// UpsertClient implements store.Clients.
func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return fmt.Errorf("upsert client %q: %w", c.ID, err)
	}
	return s.write(ctx, fmt.Sprintf("upsert client %q", c.ID), func(tx *sql.Tx) error {
		if err := userNameFree(ctx, tx, c.ID); err != nil {
			return err
		}
		// Used only when the row is inserted: an update keeps created_at.
		if err := setCreated(ctx, tx, c, args); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET
				name = excluded.name, secret_hash = excluded.secret_hash,
				grants = excluded.grants, scopes = excluded.scopes,
				redirect_uris = excluded.redirect_uris, allowed_origins = excluded.allowed_origins,
				first_party = excluded.first_party, owner = excluded.owner,
				access_ttl = excluded.access_ttl, refresh_ttl = excluded.refresh_ttl,
				portal_made = excluded.portal_made, plan = excluded.plan`, args...)
		if err != nil {
			return err
		}
		return recordChange(ctx, tx, store.ChangeClient, c.ID)
	})
}

// GetClient implements store.Clients.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	var gen uint64
	if s.clients != nil {
		c, ok, g := s.clients.get(id)
		if ok {
			return c, nil
		}
		gen = g // taken before the read: a forget during it discards the result
	}
	c, err := scanClient(s.queryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Client{}, fmt.Errorf("get client %q: %w", id, err)
	}
	if s.clients != nil {
		s.clients.put(c, gen)
	}
	return c, nil
}

// ListClients implements store.Clients.
func (s *Store) ListClients(ctx context.Context, owner string) ([]store.Client, error) {
	q, args := `SELECT `+clientColumns+` FROM clients ORDER BY id`, []any{}
	if owner != "" {
		q, args = `SELECT `+clientColumns+` FROM clients WHERE owner = ? ORDER BY id`, []any{owner}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("list clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// UpdateClient implements store.Clients.
func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return fmt.Errorf("update client %q: %w", c.ID, err)
	}
	return s.write(ctx, fmt.Sprintf("update client %q", c.ID), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE clients SET
				name = ?2, secret_hash = ?3, grants = ?4, scopes = ?5, redirect_uris = ?6,
				allowed_origins = ?7, first_party = ?8, owner = ?9, access_ttl = ?10, refresh_ttl = ?11,
				portal_made = ?13, plan = ?14
			WHERE id = ?1`, args...)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		return recordChange(ctx, tx, store.ChangeClient, c.ID)
	})
}

// DeleteClient implements store.Clients.
func (s *Store) DeleteClient(ctx context.Context, id string, now time.Time, maxTokenLifetime time.Duration) error {
	return s.write(ctx, fmt.Sprintf("delete client %q", id), func(tx *sql.Tx) error {
		return deleteClient(ctx, tx, id, now, maxTokenLifetime)
	})
}

// deleteClient records a revocation per active session of the client
// (before the cascade removes them) and a client cutoff, so every gateway
// refuses every token issued to or through it, then deletes it.
func deleteClient(ctx context.Context, tx *sql.Tx, id string, now time.Time, maxTokenLifetime time.Duration) error {
	var accessTTL, created int64
	err := tx.QueryRowContext(ctx, `SELECT access_ttl, created_at FROM clients WHERE id = ?`, id).Scan(&accessTTL, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO revocations (jti, session_id, expires_at)
		SELECT '', id, expires_at FROM sessions
		WHERE client_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at, id`, id, micros(now)); err != nil {
		return err
	}
	cut := store.CutoffAt(now, fromMicros(created))
	if err := insertCutoff(ctx, tx, id, "", cut, max(maxTokenLifetime, time.Duration(accessTTL))); err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id); err != nil {
		return err
	}
	return recordChange(ctx, tx, store.ChangeClient, id)
}

// insertCutoff records that the local tokens of clientID (or of subject)
// of incarnations created at or before cut (store.CutoffAt) are revoked,
// for as long as such a token can live.
func insertCutoff(ctx context.Context, tx *sql.Tx, clientID, subject string, cut time.Time, lifetime time.Duration) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO revocations (jti, session_id, client_id, subject, cutoff, expires_at)
		VALUES ('', '', ?, ?, ?, ?)`, clientID, subject, micros(cut), micros(store.CutoffSecond(cut).Add(lifetime)))
	return err
}

// createdArg is the index of created_at in clientColumns.
const createdArg = 11

// setCreated sets the created_at value of args (clientArgs of c) to the
// creation time the store gives c (store.CreatedAfter).
func setCreated(ctx context.Context, tx *sql.Tx, c store.Client, args []any) error {
	created, err := createdAfterCutoffs(ctx, tx, c.ID, c.CreatedAt)
	if err != nil {
		return err
	}
	args[createdArg] = micros(created)
	return nil
}

// createdAfterCutoffs is the creation time of a client or user named name
// asked to be created at created: store.CreatedAfter the latest cutoff of
// that name, as a client id or a subject (one namespace). It runs in the
// creating transaction, after any deletion that committed before it: a
// deletion and a creation of one name are ordered by the single writer,
// whatever the callers' clocks. (The scan is of the revocations still
// live; creating a client or user is rare.)
func createdAfterCutoffs(ctx context.Context, tx *sql.Tx, name string, created time.Time) (time.Time, error) {
	var latest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(cutoff) FROM revocations
		WHERE cutoff IS NOT NULL AND (client_id = ?1 OR subject = ?1)`, name).Scan(&latest); err != nil {
		return time.Time{}, err
	}
	return store.CreatedAfter(created, fromOptMicros(latest)), nil
}

// userNameFree returns a *store.NameTakenError if a user's name folds to
// the same key as the client id. It runs inside the writing transaction:
// the single writer makes the check and the insert one step.
func userNameFree(ctx context.Context, tx *sql.Tx, id string) error {
	var name string
	err := tx.QueryRowContext(ctx, `SELECT name FROM users WHERE `+foldExpr("name")+` = ? LIMIT 1`,
		store.FoldName(id)).Scan(&name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &store.NameTakenError{Name: id, TakenBy: "user", TakenName: name}
}

// oneRow turns "no row affected" into store.ErrNotFound.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearance-gw/clearance/authz/store"
)

const clientColumns = `id, name, secret_hash, grants, scopes, redirect_uris, allowed_origins,
	first_party, owner, access_ttl, refresh_ttl, created_at, portal_made, plan`

// clientArgs returns the column values of c in clientColumns order.
func clientArgs(c store.Client) []any {
	return []any{c.ID, c.Name, optBytes(c.SecretHash), nonNil(c.Grants), nonNil(c.Scopes),
		nonNil(c.RedirectURIs), nonNil(c.AllowedOrigins), c.FirstParty, c.Owner,
		int64(c.AccessTTL), int64(c.RefreshTTL), c.CreatedAt, c.PortalMade, c.Plan}
}

func scanClient(row pgx.Row) (store.Client, error) {
	var (
		c                     store.Client
		accessTTL, refreshTTL int64
	)
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Grants, &c.Scopes, &c.RedirectURIs, &c.AllowedOrigins,
		&c.FirstParty, &c.Owner, &accessTTL, &refreshTTL, &c.CreatedAt, &c.PortalMade, &c.Plan); err != nil {
		return c, err
	}
	c.AccessTTL, c.RefreshTTL = time.Duration(accessTTL), time.Duration(refreshTTL)
	c.CreatedAt = utc(c.CreatedAt)
	return c, nil
}

// CreateClient implements store.Clients.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	return s.write(ctx, fmt.Sprintf("create client %q", c.ID), namespace|changes, func(tx pgx.Tx) error {
		if err := userNameFree(ctx, tx, c.ID); err != nil {
			return err
		}
		args := clientArgs(c)
		if err := setCreated(ctx, tx, c, args); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, args...); err != nil {
			return err
		}
		return recordChange(ctx, tx, store.ChangeClient, c.ID)
	})
}

// UpsertClient implements store.Clients.
func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	return s.write(ctx, fmt.Sprintf("upsert client %q", c.ID), namespace|changes, func(tx pgx.Tx) error {
		if err := userNameFree(ctx, tx, c.ID); err != nil {
			return err
		}
		// Used only when the row is inserted: an update keeps created_at.
		args := clientArgs(c)
		if err := setCreated(ctx, tx, c, args); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Client{}, fmt.Errorf("get client %q: %w", id, classify(err))
	}
	return c, nil
}

// ListClients implements store.Clients.
func (s *Store) ListClients(ctx context.Context, owner string) ([]store.Client, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	q, args := `SELECT `+clientColumns+` FROM clients ORDER BY id`, []any{}
	if owner != "" {
		q, args = `SELECT `+clientColumns+` FROM clients WHERE owner = $1 ORDER BY id`, []any{owner}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Client, error) { return scanClient(r) })
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", classify(err))
	}
	return out, nil
}

// UpdateClient implements store.Clients.
func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	return s.write(ctx, fmt.Sprintf("update client %q", c.ID), notify|changes, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE clients SET
				name = $2, secret_hash = $3, grants = $4, scopes = $5, redirect_uris = $6,
				allowed_origins = $7, first_party = $8, owner = $9, access_ttl = $10, refresh_ttl = $11,
				portal_made = $12, plan = $13
			WHERE id = $1`, c.ID, c.Name, optBytes(c.SecretHash), nonNil(c.Grants), nonNil(c.Scopes),
			nonNil(c.RedirectURIs), nonNil(c.AllowedOrigins), c.FirstParty, c.Owner,
			int64(c.AccessTTL), int64(c.RefreshTTL), c.PortalMade, c.Plan)
		if err != nil {
			return err
		}
		if err := oneRow(tag); err != nil {
			return err
		}
		return recordChange(ctx, tx, store.ChangeClient, c.ID)
	})
}

// DeleteClient implements store.Clients.
func (s *Store) DeleteClient(ctx context.Context, id string, now time.Time, maxTokenLifetime time.Duration) error {
	return s.write(ctx, fmt.Sprintf("delete client %q", id), revokes|changes, func(tx pgx.Tx) error {
		return deleteClient(ctx, tx, id, now, maxTokenLifetime)
	})
}

// deleteClient records a revocation per active session of the client
// (before the cascade removes them) and a client cutoff, so every gateway
// refuses every token issued to or through it, then deletes it. The
// caller holds the revocation lock.
func deleteClient(ctx context.Context, tx pgx.Tx, id string, now time.Time, maxTokenLifetime time.Duration) error {
	var (
		accessTTL int64
		created   time.Time
	)
	err := tx.QueryRow(ctx, `SELECT access_ttl, created_at FROM clients WHERE id = $1 FOR UPDATE`, id).Scan(&accessTTL, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO revocations (jti, session_id, expires_at)
		SELECT '', id, expires_at FROM sessions
		WHERE client_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at, id`, id, now); err != nil {
		return err
	}
	cut := store.CutoffAt(now, created)
	if err := insertCutoff(ctx, tx, id, "", cut, max(maxTokenLifetime, time.Duration(accessTTL))); err != nil {
		return err
	}
	if _, err = tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id); err != nil {
		return err
	}
	return recordChange(ctx, tx, store.ChangeClient, id)
}

// insertCutoff records that the local tokens of clientID (or of subject)
// of incarnations created at or before cut (store.CutoffAt) are revoked,
// for as long as such a token can live.
func insertCutoff(ctx context.Context, tx pgx.Tx, clientID, subject string, cut time.Time, lifetime time.Duration) error {
	_, err := tx.Exec(ctx, `INSERT INTO revocations (jti, session_id, client_id, subject, cutoff, expires_at)
		VALUES ('', '', $1, $2, $3, $4)`, clientID, subject, cut, store.CutoffSecond(cut).Add(lifetime))
	return err
}

// createdArg is the index of created_at in clientColumns.
const createdArg = 11

// setCreated sets the created_at value of args (clientArgs of c) to the
// creation time the store gives c (store.CreatedAfter).
func setCreated(ctx context.Context, tx pgx.Tx, c store.Client, args []any) error {
	created, err := createdAfterCutoffs(ctx, tx, c.ID, c.CreatedAt)
	if err != nil {
		return err
	}
	args[createdArg] = created
	return nil
}

// createdAfterCutoffs is the creation time of a client or user named name
// asked to be created at created: store.CreatedAfter the latest cutoff of
// that name, as a client id or a subject (one namespace). Deletions write
// their cutoffs holding the revocation lock exclusively; taking it shared
// here waits for any deletion in flight on any instance, so its cutoff is
// read, and a new incarnation is always created after it whatever the
// instances' clocks say. (Lock order: namespace, then revocations; no
// deletion takes the namespace lock.)
func createdAfterCutoffs(ctx context.Context, tx pgx.Tx, name string, created time.Time) (time.Time, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, lockRevocations); err != nil {
		return time.Time{}, err
	}
	var latest *time.Time
	if err := tx.QueryRow(ctx, `SELECT MAX(cutoff) FROM revocations
		WHERE cutoff IS NOT NULL AND (client_id = $1 OR subject = $1)`, name).Scan(&latest); err != nil {
		return time.Time{}, err
	}
	var l time.Time
	if latest != nil {
		l = *latest
	}
	return store.CreatedAfter(created, l), nil
}

// userNameFree returns a *store.NameTakenError if a user's name folds to
// the same key as the client id. The caller holds the namespace lock, so
// the check and the insert are one step for every instance.
func userNameFree(ctx context.Context, tx pgx.Tx, id string) error {
	var name string
	err := tx.QueryRow(ctx, `SELECT name FROM users WHERE `+foldExpr("name")+` = $1 LIMIT 1`,
		store.FoldName(id)).Scan(&name)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &store.NameTakenError{Name: id, TakenBy: "user", TakenName: name}
}

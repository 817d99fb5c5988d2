package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema steps; step i+1 is migrations()[i]. Append new
// steps; never edit one that has shipped.
func migrations() []string {
	return []string{
		// 1: initial schema.
		`
CREATE TABLE clients (
	id              TEXT PRIMARY KEY,
	name            TEXT NOT NULL,
	secret_hash     BLOB,
	grants          TEXT NOT NULL,
	scopes          TEXT NOT NULL,
	redirect_uris   TEXT NOT NULL,
	allowed_origins TEXT NOT NULL,
	first_party     INTEGER NOT NULL,
	owner           TEXT NOT NULL,
	access_ttl      INTEGER NOT NULL,
	refresh_ttl     INTEGER NOT NULL,
	created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX clients_owner ON clients (owner, id);

CREATE TABLE users (
	name          TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,
	admin         INTEGER NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	subject    TEXT NOT NULL,
	scope      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;
CREATE INDEX sessions_client ON sessions (client_id, created_at);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE refresh_tokens (
	hash              BLOB PRIMARY KEY,
	session_id        TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	access_jti        TEXT NOT NULL,
	access_expires_at INTEGER,
	created_at        INTEGER NOT NULL,
	expires_at        INTEGER NOT NULL,
	used_at           INTEGER
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE auth_codes (
	hash                  BLOB PRIMARY KEY,
	client_id             TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	subject               TEXT NOT NULL,
	redirect_uri          TEXT NOT NULL,
	scope                 TEXT NOT NULL,
	code_challenge        TEXT NOT NULL,
	code_challenge_method TEXT NOT NULL,
	session_id            TEXT NOT NULL,
	created_at            INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL,
	used_at               INTEGER
) STRICT;
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

-- AUTOINCREMENT: a seq is never reused, even after pruning.
CREATE TABLE revocations (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	jti        TEXT NOT NULL,
	session_id TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revocations_jti ON revocations (jti) WHERE jti <> '';
CREATE INDEX revocations_session ON revocations (session_id) WHERE session_id <> '';
CREATE INDEX revocations_expires ON revocations (expires_at);

CREATE TABLE signing_keys (
	kid            TEXT PRIMARY KEY,
	alg            TEXT NOT NULL,
	public_jwk     BLOB NOT NULL,
	private_sealed BLOB NOT NULL,
	created_at     INTEGER NOT NULL,
	retired_at     INTEGER,
	drop_after     INTEGER
) STRICT;

CREATE TABLE subscriptions (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	user        TEXT NOT NULL,
	type        TEXT NOT NULL,
	name        TEXT NOT NULL,
	date_active INTEGER NOT NULL,
	date_expiry INTEGER NOT NULL
) STRICT;
CREATE INDEX subscriptions_user ON subscriptions (user, id);
`,
		// Revocation cutoffs: every local token of a deleted client or
		// user issued at or before cutoff (Unix microseconds) is revoked.
		`
ALTER TABLE revocations ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN cutoff INTEGER;
CREATE INDEX sessions_subject ON sessions (subject);
CREATE INDEX auth_codes_subject ON auth_codes (subject);
`,
		// users.scopes: a user's entitlement beyond portal.scopes.
		// clients.portal_made: the client's scopes are limited to its
		// owner's entitlement. Which owned clients were made in the portal
		// was not recorded before: every owned client is taken to be one
		// (the safe side; the operator entitles the owner with
		// "clearance user update --scope").
		// The fold indexes serve the one-namespace check of client ids and
		// user names (store.FoldName as SQL: foldExpr).
		`
ALTER TABLE users ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN portal_made INTEGER NOT NULL DEFAULT 0;
UPDATE clients SET portal_made = 1 WHERE owner <> '';
CREATE INDEX users_name_fold ON users (lower(replace(replace(name, char(8490), 'k'), char(383), 's')));
CREATE INDEX clients_id_fold ON clients (lower(replace(replace(id, char(8490), 'k'), char(383), 's')));
`,
		// Plans (SPEC §11): a client's and a user's plan, and the metered
		// requests per key (client id, or issuer#client_id) per UTC day
		// (YYYY-MM-DD, so a month is a range of the key).
		`
ALTER TABLE clients ADD COLUMN plan TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN plan TEXT NOT NULL DEFAULT '';
CREATE TABLE usage (
	key   TEXT NOT NULL,
	day   TEXT NOT NULL,
	count INTEGER NOT NULL,
	PRIMARY KEY (key, day)
) STRICT, WITHOUT ROWID;
CREATE INDEX usage_day ON usage (day);
`,
		// Admin API keys (SPEC §12), by hash only.
		`
CREATE TABLE admin_keys (
	name       TEXT PRIMARY KEY,
	hash       BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
`,
		// Session generations, and the change feed: a session counts its refreshes, its access
		// tokens name the generation they were minted in, and a rotation
		// revokes the generations below the new one with one revocation
		// row per session (revocations.generation > 0), replaced at each
		// rotation, instead of one row per rotated-out token. Sessions of
		// before have generation 0: their tokens are revoked by jti.
		`
ALTER TABLE sessions ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revocations ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
-- The change feed of clients and users (store.Changes); AUTOINCREMENT: a
-- seq is never reused, even after pruning.
CREATE TABLE changes (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL,
	key  TEXT NOT NULL
) STRICT;
`,
	}
}

// foldExpr is store.FoldName of a column in SQL (SQLite's lower() folds
// ASCII letters only, which is what FoldName does besides U+212A and
// U+017F). It must match the fold indexes' expression exactly for SQLite
// to use them.
func foldExpr(col string) string {
	return "lower(replace(replace(" + col + ", char(8490), 'k'), char(383), 's'))"
}

// migrate applies the pending steps in one transaction. A database from a
// newer binary (a higher version than it knows) is refused.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL -- Unix seconds
) STRICT`); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	steps := migrations()
	if current > len(steps) {
		return fmt.Errorf("migrate schema: database is at version %d, this binary knows %d: upgrade the binary", current, len(steps))
	}
	for i := current; i < len(steps); i++ {
		if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, unixepoch())`,
			i+1); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

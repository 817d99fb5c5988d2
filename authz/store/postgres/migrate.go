package postgres

import (
	"context"
	"fmt"
	"strings"
)

// migrations are the schema steps; step i+1 is migrations()[i]. Append new
// steps; never edit one that has shipped. The first step is the whole
// schema of the SQLite store at the time this implementation was written
// (its own steps one to three), in PostgreSQL's types.
func migrations() []string {
	return []string{
		// 1: initial schema.
		`
CREATE TABLE clients (
	id              text PRIMARY KEY,
	name            text NOT NULL,
	secret_hash     bytea,
	grants          text[] NOT NULL,
	scopes          text[] NOT NULL,
	redirect_uris   text[] NOT NULL,
	allowed_origins text[] NOT NULL,
	first_party     boolean NOT NULL,
	owner           text NOT NULL,
	access_ttl      bigint NOT NULL, -- nanoseconds
	refresh_ttl     bigint NOT NULL, -- nanoseconds
	created_at      timestamptz NOT NULL,
	portal_made     boolean NOT NULL DEFAULT false
);
CREATE INDEX clients_owner ON clients (owner, id);
CREATE INDEX clients_id_fold ON clients (` + foldExpr("id") + `);

CREATE TABLE users (
	name          text PRIMARY KEY,
	password_hash text NOT NULL,
	admin         boolean NOT NULL,
	created_at    timestamptz NOT NULL,
	scopes        text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX users_name_fold ON users (` + foldExpr("name") + `);

CREATE TABLE sessions (
	id         text PRIMARY KEY,
	client_id  text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	subject    text NOT NULL,
	scope      text NOT NULL,
	kind       text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz
);
CREATE INDEX sessions_client ON sessions (client_id, created_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_subject ON sessions (subject);

CREATE TABLE refresh_tokens (
	hash              bytea PRIMARY KEY,
	session_id        text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	access_jti        text NOT NULL,
	access_expires_at timestamptz,
	created_at        timestamptz NOT NULL,
	expires_at        timestamptz NOT NULL,
	used_at           timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE auth_codes (
	hash                  bytea PRIMARY KEY,
	client_id             text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	subject               text NOT NULL,
	redirect_uri          text NOT NULL,
	scope                 text NOT NULL,
	code_challenge        text NOT NULL,
	code_challenge_method text NOT NULL,
	session_id            text NOT NULL,
	created_at            timestamptz NOT NULL,
	expires_at            timestamptz NOT NULL,
	used_at               timestamptz
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
CREATE INDEX auth_codes_subject ON auth_codes (subject);

-- A sequence never hands out a value twice, even after pruning. Inserts
-- hold the revocation lock, so seq values commit in order.
CREATE TABLE revocations (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	jti        text NOT NULL,
	session_id text NOT NULL,
	client_id  text NOT NULL DEFAULT '',
	subject    text NOT NULL DEFAULT '',
	cutoff     timestamptz,
	expires_at timestamptz NOT NULL
);
CREATE INDEX revocations_jti ON revocations (jti) WHERE jti <> '';
CREATE INDEX revocations_session ON revocations (session_id) WHERE session_id <> '';
CREATE INDEX revocations_expires ON revocations (expires_at);

CREATE TABLE signing_keys (
	kid            text PRIMARY KEY,
	alg            text NOT NULL,
	public_jwk     bytea NOT NULL,
	private_sealed bytea NOT NULL,
	created_at     timestamptz NOT NULL,
	retired_at     timestamptz,
	drop_after     timestamptz
);

CREATE TABLE subscriptions (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_name   text NOT NULL,
	type        text NOT NULL,
	name        text NOT NULL,
	date_active timestamptz NOT NULL,
	date_expiry timestamptz NOT NULL
);
CREATE INDEX subscriptions_user ON subscriptions (user_name, id);
`,
		// 2: plans (SPEC §11): a client's and a user's plan, and the
		// metered requests per key (client id, or issuer#client_id) per UTC
		// day.
		`
ALTER TABLE clients ADD COLUMN plan text NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT '';
CREATE TABLE usage (
	key   text NOT NULL,
	day   date NOT NULL,
	count bigint NOT NULL,
	PRIMARY KEY (key, day)
);
CREATE INDEX usage_day ON usage (day);
`,
		// admin API keys (SPEC §12), by hash only.
		`
CREATE TABLE admin_keys (
	name       text PRIMARY KEY,
	hash       bytea NOT NULL,
	created_at timestamptz NOT NULL
);
`,
		// 4: session generations, and the change feed: a session counts its refreshes, its
		// access tokens name the generation they were minted in, and a
		// rotation revokes the generations below the new one with one
		// revocation row per session (revocations.generation > 0),
		// replaced at each rotation, instead of one row per rotated-out
		// token. Sessions of before have generation 0: their tokens are
		// revoked by jti.
		`
ALTER TABLE sessions ADD COLUMN generation bigint NOT NULL DEFAULT 0;
ALTER TABLE revocations ADD COLUMN generation bigint NOT NULL DEFAULT 0;
-- The change feed of clients and users (store.Changes). Inserts hold the
-- changes lock, so seq values commit in order.
CREATE TABLE changes (
	seq  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind text NOT NULL,
	key  text NOT NULL
);
`,
	}
}

// foldExpr is store.FoldName of a column in SQL. translate() maps exactly
// the characters FoldName maps (ASCII capitals, U+212A, U+017F) whatever
// the database's collation, where lower() would fold other letters too.
func foldExpr(col string) string {
	return "translate(" + col + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' || chr(8490) || chr(383), 'abcdefghijklmnopqrstuvwxyzks')"
}

// migrate applies the pending steps in one transaction, holding an
// advisory lock so that instances starting at once on an empty database
// migrate it once: the others wait, then find nothing to do. A database
// from a newer binary (a higher version than it knows) is refused.
func (s *Store) migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockMigrate); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	steps := migrations()
	if current > len(steps) {
		return fmt.Errorf("migrate schema: database is at version %d, this binary knows %d: upgrade the binary", current, len(steps))
	}
	for i := current; i < len(steps); i++ {
		if _, err := tx.Exec(ctx, strings.TrimSpace(steps[i])); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", i+1, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, i+1); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

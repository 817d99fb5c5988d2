package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearance-gw/clearance/authz/store"
)

// pruneGrace is how long used codes, used refresh tokens and ended
// sessions are kept past their end, so replays are still recognised.
const pruneGrace = 24 * time.Hour

// errLockFirst restarts a transaction that found it must record a
// revocation but did not start by taking the revocation lock.
var errLockFirst = errors.New("revocation lock needed")

const sessionColumns = `id, client_id, subject, scope, kind, created_at, expires_at, revoked_at, generation`

func scanSession(row pgx.Row) (store.Session, error) {
	var (
		s       store.Session
		revoked *time.Time
	)
	if err := row.Scan(&s.ID, &s.ClientID, &s.Subject, &s.Scope, &s.Kind, &s.CreatedAt, &s.ExpiresAt, &revoked, &s.Generation); err != nil {
		return s, err
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = utc(s.CreatedAt), utc(s.ExpiresAt), fromOpt(revoked)
	return s, nil
}

// CreateSession implements store.Sessions. It holds the revocation lock
// shared: a replayed code's tombstone (recorded under the lock held
// exclusively) is either seen here or recorded after this session exists,
// and then revokes it.
func (s *Store) CreateSession(ctx context.Context, sess store.Session, first *store.RefreshToken) error {
	return s.write(ctx, fmt.Sprintf("create session %q", sess.ID), createSession, func(tx pgx.Tx) error {
		var revoked bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revocations WHERE session_id = $1 AND generation = 0)`,
			sess.ID).Scan(&revoked); err != nil {
			return err
		}
		if revoked && sess.ID != "" {
			return store.ErrRevoked
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			sess.ID, sess.ClientID, sess.Subject, sess.Scope, sess.Kind,
			sess.CreatedAt, sess.ExpiresAt, optTime(sess.RevokedAt), sess.Generation); err != nil {
			return err
		}
		if first == nil {
			return nil
		}
		rt := *first
		rt.SessionID = sess.ID
		return insertRefresh(ctx, tx, rt)
	})
}

func insertRefresh(ctx context.Context, tx pgx.Tx, rt store.RefreshToken) error {
	if len(rt.Hash) == 0 {
		return errors.New("refresh token without hash")
	}
	_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens
		(hash, session_id, access_jti, access_expires_at, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		rt.Hash, rt.SessionID, rt.AccessJTI, optTime(rt.AccessExpiresAt),
		rt.CreatedAt, rt.ExpiresAt, optTime(rt.UsedAt))
	return err
}

// GetSession implements store.Sessions.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	sess, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("get session %q: %w", id, classify(err))
	}
	return sess, nil
}

// ListSessions implements store.Sessions.
func (s *Store) ListSessions(ctx context.Context, clientID string, now time.Time) ([]store.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE client_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id`, clientID, now)
	if err != nil {
		return nil, fmt.Errorf("list sessions of %q: %w", clientID, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, fmt.Errorf("list sessions of %q: %w", clientID, classify(err))
	}
	return out, nil
}

// CountActiveSessions implements store.Sessions.
func (s *Store) CountActiveSessions(ctx context.Context, now time.Time) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > $1`,
		now).Scan(&n); err != nil {
		return 0, fmt.Errorf("count active sessions: %w", classify(err))
	}
	return n, nil
}

// GetRefreshToken implements store.Sessions.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var (
		rt              store.RefreshToken
		accessExp, used *time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT hash, session_id, access_jti, access_expires_at, created_at, expires_at, used_at
		FROM refresh_tokens WHERE hash = $1`, hash).Scan(&rt.Hash, &rt.SessionID, &rt.AccessJTI, &accessExp, &rt.CreatedAt, &rt.ExpiresAt, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("get refresh token: %w", classify(err))
	}
	rt.AccessExpiresAt, rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = fromOpt(accessExp), utc(rt.CreatedAt), utc(rt.ExpiresAt), fromOpt(used)
	return rt, nil
}

// RotateRefresh implements store.Sessions. The token's row is locked
// before it is judged: of two instances rotating it at once, the second
// waits for the first to commit and then finds it used.
func (s *Store) RotateRefresh(ctx context.Context, clientID string, oldHash []byte, next store.RefreshToken, now time.Time) (store.Session, error) {
	var (
		sess   store.Session
		reused error // returned after the revocation commits
	)
	err := s.write(ctx, "rotate refresh token", revokes, func(tx pgx.Tx) error {
		reused = nil
		var (
			sessionID, jti  string
			exp             time.Time
			used, accessExp *time.Time
		)
		err := tx.QueryRow(ctx, `SELECT session_id, expires_at, used_at, access_jti, access_expires_at
			FROM refresh_tokens WHERE hash = $1 FOR UPDATE`, oldHash).Scan(&sessionID, &exp, &used, &jti, &accessExp)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		sess, err = scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1 FOR UPDATE`, sessionID))
		if err != nil {
			return err // the foreign key makes a missing session impossible
		}
		switch {
		case sess.ClientID != clientID:
			return store.ErrNotFound
		case !sess.RevokedAt.IsZero():
			return store.ErrRevoked
		case used != nil:
			if err := revokeSession(ctx, tx, sess.ID, now); err != nil {
				return err
			}
			reused = &store.RefreshReusedError{SessionID: sess.ID}
			return nil
		case !now.Before(exp) || !now.Before(sess.ExpiresAt):
			return store.ErrExpired
		}
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL`, now, oldHash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return store.ErrRefreshReused
		}
		next.SessionID = sess.ID
		if err := insertRefresh(ctx, tx, next); err != nil {
			return err
		}
		oldExp := latest(fromOpt(accessExp), now)
		switch {
		case sess.Generation > 0:
			if err := revokeGenerations(ctx, tx, sess.ID, sess.Generation+1, oldExp); err != nil {
				return err
			}
		case jti != "":
			if err := revokeJTI(ctx, tx, jti, oldExp); err != nil {
				return err
			}
		}
		if sess.Generation > 0 {
			sess.Generation++
		}
		sess.ExpiresAt = latest(sess.ExpiresAt, next.ExpiresAt, next.AccessExpiresAt).UTC()
		_, err = tx.Exec(ctx, `UPDATE sessions SET expires_at = $1, generation = $2 WHERE id = $3`,
			sess.ExpiresAt, sess.Generation, sess.ID)
		return err
	})
	if err == nil && reused != nil {
		err = fmt.Errorf("rotate refresh token: %w", reused)
	}
	if err != nil {
		return store.Session{}, err
	}
	return sess, nil
}

// CreateCode implements store.Sessions.
func (s *Store) CreateCode(ctx context.Context, c store.AuthCode) error {
	if len(c.Hash) == 0 {
		return errors.New("create authorization code: no hash")
	}
	return s.write(ctx, "create authorization code", noLock, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO auth_codes (`+codeColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			c.Hash, c.ClientID, c.Subject, c.RedirectURI, c.Scope, c.CodeChallenge, c.CodeChallengeMethod,
			c.SessionID, c.CreatedAt, c.ExpiresAt, optTime(c.UsedAt))
		return err
	})
}

const codeColumns = `hash, client_id, subject, redirect_uri, scope, code_challenge, code_challenge_method,
	session_id, created_at, expires_at, used_at`

// ConsumeCode implements store.Sessions. A code of another client is not
// found: the lookup is by hash and client together, so such a request
// reads nothing and writes nothing. The code's row is locked before it is
// judged, so of concurrent exchanges exactly one finds it unused. A replay
// must record a revocation: it is run again from the start holding the
// revocation lock (rare, so exchanges do not queue on that lock).
func (s *Store) ConsumeCode(ctx context.Context, clientID string, hash []byte, now time.Time) (store.AuthCode, error) {
	var (
		c      store.AuthCode
		reused error
	)
	consume := func(locked bool) func(tx pgx.Tx) error {
		return func(tx pgx.Tx) error {
			reused = nil
			var used *time.Time
			err := tx.QueryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1 AND client_id = $2 FOR UPDATE`,
				hash, clientID).Scan(
				&c.Hash, &c.ClientID, &c.Subject, &c.RedirectURI, &c.Scope, &c.CodeChallenge, &c.CodeChallengeMethod,
				&c.SessionID, &c.CreatedAt, &c.ExpiresAt, &used)
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			c.CreatedAt, c.ExpiresAt, c.UsedAt = utc(c.CreatedAt), utc(c.ExpiresAt), fromOpt(used)
			switch {
			case used != nil && !locked:
				return errLockFirst
			case used != nil:
				reused = &store.CodeReusedError{Code: c}
				return revokeCodeSession(ctx, tx, c, now)
			case !now.Before(c.ExpiresAt):
				return store.ErrExpired
			}
			tag, err := tx.Exec(ctx, `UPDATE auth_codes SET used_at = $1 WHERE hash = $2 AND client_id = $3 AND used_at IS NULL`,
				now, hash, clientID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return store.ErrCodeReused
			}
			c.UsedAt = now.UTC().Truncate(time.Microsecond)
			return nil
		}
	}
	err := s.write(ctx, "consume authorization code", noLock, consume(false))
	if errors.Is(err, errLockFirst) {
		err = s.write(ctx, "consume authorization code", revokes, consume(true))
	}
	if err == nil && reused != nil {
		err = fmt.Errorf("consume authorization code: %w", reused)
	}
	if err != nil {
		return store.AuthCode{}, err
	}
	return c, nil
}

// revokeCodeSession revokes the session a replayed code was exchanged
// for. When the session does not exist (yet), a revocation under its id
// makes a later CreateSession fail with ErrRevoked. The caller holds the
// revocation lock.
func revokeCodeSession(ctx context.Context, tx pgx.Tx, c store.AuthCode, now time.Time) error {
	if c.SessionID == "" {
		return nil
	}
	err := revokeSession(ctx, tx, c.SessionID, now)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revocations WHERE session_id = $1 AND generation = 0)`,
		c.SessionID).Scan(&exists); err != nil || exists {
		return err
	}
	// The first exchange consumed the code a moment ago and is about to
	// create the session: keep the tombstone well past that.
	_, err = tx.Exec(ctx, `INSERT INTO revocations (jti, session_id, expires_at) VALUES ('', $1, $2)`,
		c.SessionID, latest(c.ExpiresAt, now).Add(pruneGrace))
	return err
}

// RevokeSession implements store.Revocations.
func (s *Store) RevokeSession(ctx context.Context, id string, now time.Time) error {
	return s.write(ctx, fmt.Sprintf("revoke session %q", id), revokes, func(tx pgx.Tx) error {
		return revokeSession(ctx, tx, id, now)
	})
}

// revokeSession marks the session revoked (its refresh tokens are refused
// from then on) and records a revocation that lives as long as any token
// of the session can. The caller holds the revocation lock.
func revokeSession(ctx context.Context, tx pgx.Tx, id string, now time.Time) error {
	var (
		exp     time.Time
		revoked *time.Time
	)
	err := tx.QueryRow(ctx, `SELECT expires_at, revoked_at FROM sessions WHERE id = $1 FOR UPDATE`, id).Scan(&exp, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil || revoked != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2`, now, id); err != nil {
		return err
	}
	// The whole session is revoked now: its generation row says less.
	if _, err := tx.Exec(ctx, `DELETE FROM revocations WHERE session_id = $1 AND generation > 0`, id); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO revocations (jti, session_id, expires_at) VALUES ('', $1, $2)`,
		id, latest(exp, now))
	return err
}

// revokeGenerations records that the session's tokens below generation
// gen are revoked, replacing the session's previous generation row (so
// there is one per session, with a new seq for the pollers), and living
// until the latest of those tokens expires: exp, or the previous row's
// expiry when later. The caller holds the revocation lock.
func revokeGenerations(ctx context.Context, tx pgx.Tx, sid string, gen int64, exp time.Time) error {
	var prev *time.Time
	if err := tx.QueryRow(ctx, `DELETE FROM revocations WHERE session_id = $1 AND generation > 0 RETURNING expires_at`,
		sid).Scan(&prev); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO revocations (jti, session_id, generation, expires_at) VALUES ('', $1, $2, $3)`,
		sid, gen, latest(exp, fromOpt(prev)))
	return err
}

// RevokeJTI implements store.Revocations.
func (s *Store) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	if jti == "" {
		return errors.New("revoke token: empty jti")
	}
	return s.write(ctx, "revoke token", revokes, func(tx pgx.Tx) error {
		return revokeJTI(ctx, tx, jti, exp)
	})
}

// revokeJTI records a revoked jti once. The caller holds the revocation
// lock.
func revokeJTI(ctx context.Context, tx pgx.Tx, jti string, exp time.Time) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revocations WHERE jti = $1)`, jti).Scan(&exists); err != nil || exists {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO revocations (jti, session_id, expires_at) VALUES ($1, '', $2)`, jti, exp)
	return err
}

// RevocationsSince implements store.Revocations. Revocations are recorded
// under the revocation lock, so their seq values commit in order and a
// reader never sees a gap fill in later.
func (s *Store) RevocationsSince(ctx context.Context, seq int64) ([]store.Revocation, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT seq, jti, session_id, client_id, subject, cutoff, generation, expires_at
		FROM revocations WHERE seq > $1 ORDER BY seq`, seq)
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Revocation, error) {
		var (
			r      store.Revocation
			cutoff *time.Time
		)
		err := row.Scan(&r.Seq, &r.JTI, &r.SessionID, &r.ClientID, &r.Subject, &cutoff, &r.Generation, &r.ExpiresAt)
		r.Cutoff, r.ExpiresAt = fromOpt(cutoff), utc(r.ExpiresAt)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", classify(err))
	}
	return out, nil
}

// Prune implements store.Revocations.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	old := now.Add(-pruneGrace)
	return s.write(ctx, "prune store", noLock, func(tx pgx.Tx) error {
		for _, q := range []struct {
			sql string
			arg time.Time
		}{
			{`DELETE FROM revocations WHERE expires_at <= $1`, now},
			{`DELETE FROM auth_codes WHERE expires_at <= $1`, old},
			{`DELETE FROM refresh_tokens WHERE expires_at <= $1`, old},
			{`DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at <= $1`, old},
			{`DELETE FROM signing_keys WHERE drop_after <= $1`, now},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.arg); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - $1`, store.ChangesKept)
		return err
	})
}

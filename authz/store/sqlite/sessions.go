package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

// pruneGrace is how long used codes, used refresh tokens and ended
// sessions are kept past their end, so replays are still recognised.
const pruneGrace = 24 * time.Hour

const sessionColumns = `id, client_id, subject, scope, kind, created_at, expires_at, revoked_at, generation`

func scanSession(row scanner) (store.Session, error) {
	var (
		s            store.Session
		created, exp int64
		revoked      sql.NullInt64
	)
	if err := row.Scan(&s.ID, &s.ClientID, &s.Subject, &s.Scope, &s.Kind, &created, &exp, &revoked, &s.Generation); err != nil {
		return s, err
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMicros(created), fromMicros(exp), fromOptMicros(revoked)
	return s, nil
}

// CreateSession implements store.Sessions.
func (s *Store) CreateSession(ctx context.Context, sess store.Session, first *store.RefreshToken) error {
	return s.write(ctx, fmt.Sprintf("create session %q", sess.ID), func(tx *sql.Tx) error {
		var revoked bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM revocations WHERE session_id = ? AND generation = 0)`,
			sess.ID).Scan(&revoked); err != nil {
			return err
		}
		if revoked && sess.ID != "" {
			return store.ErrRevoked
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, sess.ClientID, sess.Subject, sess.Scope, sess.Kind,
			micros(sess.CreatedAt), micros(sess.ExpiresAt), optMicros(sess.RevokedAt), sess.Generation); err != nil {
			return err
		}
		if first == nil {
			return nil
		}
		rt := *first
		rt.SessionID = sess.ID
		return s.insertRefresh(ctx, tx, rt)
	})
}

func (s *Store) insertRefresh(ctx context.Context, tx *sql.Tx, rt store.RefreshToken) error {
	if len(rt.Hash) == 0 {
		return errors.New("refresh token without hash")
	}
	_, err := s.txExec(ctx, tx, `INSERT INTO refresh_tokens
		(hash, session_id, access_jti, access_expires_at, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		rt.Hash, rt.SessionID, rt.AccessJTI, optMicros(rt.AccessExpiresAt),
		micros(rt.CreatedAt), micros(rt.ExpiresAt), optMicros(rt.UsedAt))
	return err
}

// GetSession implements store.Sessions.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	sess, err := scanSession(s.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("get session %q: %w", id, err)
	}
	return sess, nil
}

// ListSessions implements store.Sessions.
func (s *Store) ListSessions(ctx context.Context, clientID string, now time.Time) ([]store.Session, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE client_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id`, clientID, micros(now))
	if err != nil {
		return nil, fmt.Errorf("list sessions of %q: %w", clientID, err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions of %q: %w", clientID, err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions of %q: %w", clientID, err)
	}
	return out, nil
}

// CountActiveSessions implements store.Sessions.
func (s *Store) CountActiveSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > ?`,
		micros(now)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count active sessions: %w", err)
	}
	return n, nil
}

// GetRefreshToken implements store.Sessions.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	var (
		rt              store.RefreshToken
		created, exp    int64
		accessExp, used sql.NullInt64
	)
	err := s.queryRow(ctx, `SELECT hash, session_id, access_jti, access_expires_at, created_at, expires_at, used_at
		FROM refresh_tokens WHERE hash = ?`, hash).Scan(&rt.Hash, &rt.SessionID, &rt.AccessJTI, &accessExp, &created, &exp, &used)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("get refresh token: %w", err)
	}
	rt.AccessExpiresAt, rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = fromOptMicros(accessExp), fromMicros(created), fromMicros(exp), fromOptMicros(used)
	return rt, nil
}

// RotateRefresh implements store.Sessions.
func (s *Store) RotateRefresh(ctx context.Context, clientID string, oldHash []byte, next store.RefreshToken, now time.Time) (store.Session, error) {
	var (
		sess   store.Session
		reused error // returned after the revocation commits
	)
	err := s.write(ctx, "rotate refresh token", func(tx *sql.Tx) error {
		var (
			sessionID, jti  string
			exp             int64
			used, accessExp sql.NullInt64
		)
		err := s.txQueryRow(ctx, tx, `SELECT session_id, expires_at, used_at, access_jti, access_expires_at
			FROM refresh_tokens WHERE hash = ?`, oldHash).Scan(&sessionID, &exp, &used, &jti, &accessExp)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		sess, err = scanSession(s.txQueryRow(ctx, tx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, sessionID))
		if err != nil {
			return err // the foreign key makes a missing session impossible
		}
		switch {
		case sess.ClientID != clientID:
			return store.ErrNotFound
		case !sess.RevokedAt.IsZero():
			return store.ErrRevoked
		case used.Valid:
			if err := revokeSession(ctx, tx, sess.ID, now); err != nil {
				return err
			}
			reused = &store.RefreshReusedError{SessionID: sess.ID}
			return nil
		case !now.Before(fromMicros(exp)) || !now.Before(sess.ExpiresAt):
			return store.ErrExpired
		}
		// The single writer serialises rotations; the condition keeps the
		// statement correct on its own.
		res, err := s.txExec(ctx, tx, `UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL`,
			micros(now), oldHash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, store.ErrRefreshReused)
		}
		next.SessionID = sess.ID
		if err := s.insertRefresh(ctx, tx, next); err != nil {
			return err
		}
		oldExp := latest(fromOptMicros(accessExp), now)
		switch {
		case sess.Generation > 0:
			if err := s.revokeGenerations(ctx, tx, sess.ID, sess.Generation+1, oldExp); err != nil {
				return err
			}
		case jti != "":
			if err := s.revokeJTI(ctx, tx, jti, oldExp); err != nil {
				return err
			}
		}
		if sess.Generation > 0 {
			sess.Generation++
		}
		sess.ExpiresAt = latest(sess.ExpiresAt, next.ExpiresAt, next.AccessExpiresAt)
		_, err = s.txExec(ctx, tx, `UPDATE sessions SET expires_at = ?, generation = ? WHERE id = ?`,
			micros(sess.ExpiresAt), sess.Generation, sess.ID)
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

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// CreateCode implements store.Sessions.
func (s *Store) CreateCode(ctx context.Context, c store.AuthCode) error {
	if len(c.Hash) == 0 {
		return errors.New("create authorization code: no hash")
	}
	return s.write(ctx, "create authorization code", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO auth_codes (`+codeColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Hash, c.ClientID, c.Subject, c.RedirectURI, c.Scope, c.CodeChallenge, c.CodeChallengeMethod,
			c.SessionID, micros(c.CreatedAt), micros(c.ExpiresAt), optMicros(c.UsedAt))
		return err
	})
}

const codeColumns = `hash, client_id, subject, redirect_uri, scope, code_challenge, code_challenge_method,
	session_id, created_at, expires_at, used_at`

// ConsumeCode implements store.Sessions. A code of another client is not
// found: the lookup is by hash and client together, so such a request
// reads nothing and writes nothing.
func (s *Store) ConsumeCode(ctx context.Context, clientID string, hash []byte, now time.Time) (store.AuthCode, error) {
	var (
		c      store.AuthCode
		reused error
	)
	err := s.write(ctx, "consume authorization code", func(tx *sql.Tx) error {
		var (
			created, exp int64
			used         sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ? AND client_id = ?`,
			hash, clientID).Scan(
			&c.Hash, &c.ClientID, &c.Subject, &c.RedirectURI, &c.Scope, &c.CodeChallenge, &c.CodeChallengeMethod,
			&c.SessionID, &created, &exp, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMicros(created), fromMicros(exp), fromOptMicros(used)
		switch {
		case used.Valid:
			reused = &store.CodeReusedError{Code: c}
			return revokeCodeSession(ctx, tx, c, now)
		case !now.Before(c.ExpiresAt):
			return store.ErrExpired
		}
		res, err := tx.ExecContext(ctx, `UPDATE auth_codes SET used_at = ? WHERE hash = ? AND client_id = ? AND used_at IS NULL`,
			micros(now), hash, clientID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, store.ErrCodeReused)
		}
		c.UsedAt = fromMicros(micros(now))
		return nil
	})
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
// makes a later CreateSession fail with ErrRevoked.
func revokeCodeSession(ctx context.Context, tx *sql.Tx, c store.AuthCode, now time.Time) error {
	if c.SessionID == "" {
		return nil
	}
	err := revokeSession(ctx, tx, c.SessionID, now)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM revocations WHERE session_id = ? AND generation = 0)`,
		c.SessionID).Scan(&exists); err != nil || exists {
		return err
	}
	// The first exchange consumed the code a moment ago and is about to
	// create the session: keep the tombstone well past that.
	_, err = tx.ExecContext(ctx, `INSERT INTO revocations (jti, session_id, expires_at) VALUES ('', ?, ?)`,
		c.SessionID, micros(latest(c.ExpiresAt, now).Add(pruneGrace)))
	return err
}

// RevokeSession implements store.Revocations.
func (s *Store) RevokeSession(ctx context.Context, id string, now time.Time) error {
	return s.write(ctx, fmt.Sprintf("revoke session %q", id), func(tx *sql.Tx) error {
		return revokeSession(ctx, tx, id, now)
	})
}

// revokeSession marks the session revoked (its refresh tokens are refused
// from then on) and records a revocation that lives as long as any token
// of the session can.
func revokeSession(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	var (
		exp     int64
		revoked sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, `SELECT expires_at, revoked_at FROM sessions WHERE id = ?`, id).Scan(&exp, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil || revoked.Valid {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE id = ?`, micros(now), id); err != nil {
		return err
	}
	// The whole session is revoked now: its generation row says less.
	if _, err := tx.ExecContext(ctx, `DELETE FROM revocations WHERE session_id = ? AND generation > 0`, id); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO revocations (jti, session_id, expires_at) VALUES ('', ?, ?)`,
		id, micros(latest(fromMicros(exp), now)))
	return err
}

// revokeGenerations records that the session's tokens below generation
// gen are revoked, replacing the session's previous generation row (so
// there is one per session, with a new seq for the pollers), and living
// until the latest of those tokens expires: exp, or the previous row's
// expiry when later.
func (s *Store) revokeGenerations(ctx context.Context, tx *sql.Tx, sid string, gen int64, exp time.Time) error {
	var prev sql.NullInt64
	if err := s.txQueryRow(ctx, tx, `SELECT MAX(expires_at) FROM revocations WHERE session_id = ? AND generation > 0`,
		sid).Scan(&prev); err != nil {
		return err
	}
	if _, err := s.txExec(ctx, tx, `DELETE FROM revocations WHERE session_id = ? AND generation > 0`, sid); err != nil {
		return err
	}
	_, err := s.txExec(ctx, tx, `INSERT INTO revocations (jti, session_id, generation, expires_at) VALUES ('', ?, ?, ?)`,
		sid, gen, micros(latest(exp, fromOptMicros(prev))))
	return err
}

// RevokeJTI implements store.Revocations.
func (s *Store) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	if jti == "" {
		return errors.New("revoke token: empty jti")
	}
	return s.write(ctx, "revoke token", func(tx *sql.Tx) error {
		return s.revokeJTI(ctx, tx, jti, exp)
	})
}

func (s *Store) revokeJTI(ctx context.Context, tx *sql.Tx, jti string, exp time.Time) error {
	var exists bool
	if err := s.txQueryRow(ctx, tx, `SELECT EXISTS (SELECT 1 FROM revocations WHERE jti = ?)`, jti).Scan(&exists); err != nil || exists {
		return err
	}
	_, err := s.txExec(ctx, tx, `INSERT INTO revocations (jti, session_id, expires_at) VALUES (?, '', ?)`, jti, micros(exp))
	return err
}

// RevocationsSince implements store.Revocations. The single writer
// commits revocations in seq order, so a reader never sees a gap fill in
// later.
func (s *Store) RevocationsSince(ctx context.Context, seq int64) ([]store.Revocation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, jti, session_id, client_id, subject, cutoff, generation, expires_at
		FROM revocations WHERE seq > ? ORDER BY seq`, seq)
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	defer rows.Close()
	var out []store.Revocation
	for rows.Next() {
		var (
			r      store.Revocation
			cutoff sql.NullInt64
			exp    int64
		)
		if err := rows.Scan(&r.Seq, &r.JTI, &r.SessionID, &r.ClientID, &r.Subject, &cutoff, &r.Generation, &exp); err != nil {
			return nil, fmt.Errorf("list revocations: %w", err)
		}
		r.Cutoff, r.ExpiresAt = fromOptMicros(cutoff), fromMicros(exp)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	return out, nil
}

// Prune implements store.Revocations.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	cut, old := micros(now), micros(now.Add(-pruneGrace))
	return s.write(ctx, "prune store", func(tx *sql.Tx) error {
		for _, q := range []struct {
			sql string
			arg int64
		}{
			{`DELETE FROM revocations WHERE expires_at <= ?`, cut},
			{`DELETE FROM auth_codes WHERE expires_at <= ?`, old},
			{`DELETE FROM refresh_tokens WHERE expires_at <= ?`, old},
			{`DELETE FROM sessions WHERE expires_at <= ?1 OR revoked_at <= ?1`, old},
			{`DELETE FROM signing_keys WHERE drop_after <= ?`, cut},
			{`DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - ?`, store.ChangesKept},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, q.arg); err != nil {
				return err
			}
		}
		return nil
	})
}

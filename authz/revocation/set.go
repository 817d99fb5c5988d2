// Package revocation keeps the revoked access tokens (by jti), sessions
// (by sid) and the cutoffs of deleted clients and users (every local token
// of that client or subject, of an incarnation created at or before a time)
// in memory, in step with the store, so the proxy path can refuse them
// without any store I/O.
//
// A Set learns revocations two ways: Add, for revocations made by this
// instance (they take effect at once), and Sync, which reads the ones recorded
// since the last poll (made by any instance). Run calls Sync every Interval,
// so a revocation made on one instance is refused by every other within about
// one Interval (500 ms by default).
package revocation

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/clearance-gw/clearance/authz/store"
)

// Source is where revocations come from: the store.
type Source interface {
	// RevocationsSince returns the revocations with Seq > seq, by Seq.
	RevocationsSince(ctx context.Context, seq int64) ([]store.Revocation, error)
}

// DefaultInterval is the polling interval Run uses when Options.Interval is 0.
const DefaultInterval = 500 * time.Millisecond

// sweepEvery bounds how often expired entries are looked for.
const sweepEvery = time.Minute

// Options configure a Set. The zero value is usable.
type Options struct {
	// Interval between polls in Run; DefaultInterval when 0.
	Interval time.Duration
	// Now is the clock that decides when an entry has expired; time.Now
	// when nil.
	Now func() time.Time
	// Logger receives poll failures; discarded when nil.
	Logger *slog.Logger
	// Registerer, when not nil, gets the gauge clearance_revocation_entries
	// (the entries held, see Len).
	Registerer prometheus.Registerer
}

// Set is the in-memory revocation set. It is safe for concurrent use; reads
// (Revoked) take a read lock only and never allocate.
type Set struct {
	src      Source
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	syncMu sync.Mutex // serialises Sync so seq only moves forward
	seq    int64      // guarded by syncMu

	mu        sync.RWMutex
	jtis      map[string]time.Time // jti -> expiry
	sessions  map[string]time.Time // sid -> expiry
	clients   map[string]cutoff    // client_id -> cutoff
	subjects  map[string]cutoff    // sub -> cutoff
	lastSweep time.Time
}

// cutoff revokes, until exp, the tokens of incarnations created at or
// before at (Unix microseconds, as the client_created and user_created
// claims), and the tokens without such a claim issued at or before atSec
// (at rounded up to the second, as the iat claim).
type cutoff struct {
	at    int64
	atSec int64
	exp   time.Time
}

// covers reports whether c revokes a token whose client or user was created
// at created (Unix microseconds; 0 when the token does not say) and which
// was issued at issuedAt (Unix seconds).
func (c cutoff) covers(created, issuedAt int64) bool {
	if created != 0 {
		return created <= c.at
	}
	return issuedAt <= c.atSec
}

// New returns an empty Set reading from src. Call Sync once before serving.
func New(src Source, opts Options) *Set {
	s := &Set{
		src:      src,
		interval: opts.Interval,
		now:      opts.Now,
		log:      opts.Logger,
		jtis:     make(map[string]time.Time),
		sessions: make(map[string]time.Time),
		clients:  make(map[string]cutoff),
		subjects: make(map[string]cutoff),
	}
	if s.interval <= 0 {
		s.interval = DefaultInterval
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.lastSweep = s.now()
	if opts.Registerer != nil {
		promauto.With(opts.Registerer).NewGaugeFunc(prometheus.GaugeOpts{
			Name: "clearance_revocation_entries",
			Help: "Entries held in memory to refuse revoked tokens: token ids, sessions, and cutoffs of deleted clients and users.",
		}, func() float64 { return float64(s.Len()) })
	}
	return s
}

// Revoked reports whether the token with this jti, or the session with this
// id, is revoked. Empty values never match. It does not consult cutoffs:
// RevokedToken does.
func (s *Set) Revoked(jti, sessionID string) bool {
	return s.RevokedToken(jti, sessionID, "", "", 0, 0, 0)
}

// RevokedToken reports whether a token is revoked: by its jti, its session,
// or a cutoff of its client (clientID, the client_id claim) or its subject
// (the sub claim). Pass clientID and subject only for tokens of the
// gateway's own issuer: a trusted issuer's subjects and clients are another
// tenant's. Empty values never match.
//
// clientCreated and userCreated are the token's client_created and
// user_created claims (Unix microseconds; 0 when absent): the creation time
// of the client and of the user it was minted for. A cutoff revokes the
// token when that creation time is at or before it: the deleted incarnation
// was created before its deletion, a new one of the same name after (the
// store keeps them apart to the microsecond), so a new client's tokens work
// at once and none of the old one's ever does. That also holds for a token
// minted concurrently with the deletion (the issuer read the client, the
// deletion committed, then the token was signed): it carries the deleted
// incarnation's creation time. A token with client_created but no
// user_created has its client as subject (client_credentials), so a subject
// cutoff compares clientCreated. A token with neither (minted before the
// claims existed) is revoked when issuedAt (iat, Unix seconds) is at or
// before the cutoff rounded up to the second.
//
// It takes a read lock and does not allocate.
func (s *Set) RevokedToken(jti, sessionID, clientID, subject string, issuedAt, clientCreated, userCreated int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if jti != "" {
		if _, ok := s.jtis[jti]; ok {
			return true
		}
	}
	if sessionID != "" {
		if _, ok := s.sessions[sessionID]; ok {
			return true
		}
	}
	if clientID != "" {
		if c, ok := s.clients[clientID]; ok && c.covers(clientCreated, issuedAt) {
			return true
		}
	}
	if subject != "" {
		created := userCreated
		if created == 0 {
			created = clientCreated
		}
		if c, ok := s.subjects[subject]; ok && c.covers(created, issuedAt) {
			return true
		}
	}
	return false
}

// Add records a revocation at once (one this instance just made). Its Seq is
// ignored: Sync will read it again from the store, harmlessly.
func (s *Set) Add(r store.Revocation) {
	s.mu.Lock()
	s.addLocked(r)
	s.mu.Unlock()
}

func (s *Set) addLocked(r store.Revocation) {
	if r.JTI != "" {
		if old, ok := s.jtis[r.JTI]; !ok || later(r.ExpiresAt, old) {
			s.jtis[r.JTI] = r.ExpiresAt
		}
	}
	if r.SessionID != "" {
		if old, ok := s.sessions[r.SessionID]; !ok || later(r.ExpiresAt, old) {
			s.sessions[r.SessionID] = r.ExpiresAt
		}
	}
	if r.ClientID != "" {
		addCutoff(s.clients, r.ClientID, r)
	}
	if r.Subject != "" {
		addCutoff(s.subjects, r.Subject, r)
	}
}

// addCutoff merges r into m[key]: the later cutoff and the later expiry
// (one key deleted twice refuses everything up to the second deletion).
func addCutoff(m map[string]cutoff, key string, r store.Revocation) {
	c := cutoff{at: r.Cutoff.UnixMicro(), atSec: store.CutoffSecond(r.Cutoff).Unix(), exp: r.ExpiresAt}
	if old, ok := m[key]; ok {
		c.at, c.atSec = max(c.at, old.at), max(c.atSec, old.atSec)
		if !later(c.exp, old.exp) {
			c.exp = old.exp
		}
	}
	m[key] = c
}

// later reports whether a outlives b; a zero time never expires.
func later(a, b time.Time) bool {
	if b.IsZero() {
		return false
	}
	return a.IsZero() || a.After(b)
}

// Sync reads the revocations recorded since the last Sync and drops entries
// that have expired. On error the set is unchanged and the next Sync retries
// from the same point.
func (s *Set) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	revs, err := s.src.RevocationsSince(ctx, s.seq)
	if err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range revs {
		if r.Seq > s.seq {
			s.seq = r.Seq
		}
		if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
			continue // already expired: the token is refused anyway
		}
		s.addLocked(r)
	}
	if now.Sub(s.lastSweep) >= sweepEvery {
		s.sweepLocked(now)
	}
	return nil
}

// sweepLocked drops entries whose tokens have expired by now.
func (s *Set) sweepLocked(now time.Time) {
	for k, exp := range s.jtis {
		if !exp.IsZero() && !now.Before(exp) {
			delete(s.jtis, k)
		}
	}
	for k, exp := range s.sessions {
		if !exp.IsZero() && !now.Before(exp) {
			delete(s.sessions, k)
		}
	}
	for _, m := range []map[string]cutoff{s.clients, s.subjects} {
		for k, c := range m {
			if !c.exp.IsZero() && !now.Before(c.exp) {
				delete(m, k)
			}
		}
	}
	s.lastSweep = now
}

// Len returns the number of entries held: revoked tokens, sessions, and
// client and subject cutoffs.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.jtis) + len(s.sessions) + len(s.clients) + len(s.subjects)
}

// Run calls Sync every Interval until ctx is done. Failures are logged (once
// per run of failures) and retried at the next tick.
func (s *Set) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.Sync(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			s.log.ErrorContext(ctx, "revocation sync failed", "error", err)
		case err == nil && failing:
			failing = false
			s.log.InfoContext(ctx, "revocation sync recovered")
		}
	}
}

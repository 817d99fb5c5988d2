// Package revocation keeps the revoked access tokens (by jti), sessions
// (by sid), the generations a session's rotations left behind (by sid: one
// entry per session, however often it rotates) and the cutoffs of deleted clients and users (every local token
// of that client or subject, of an incarnation created at or before a time)
// in memory, in step with the store, so the proxy path can refuse them
// without any store I/O.
//
// A Set learns revocations two ways: Add, for revocations made by this
// instance (they take effect at once), and Sync, which reads the ones recorded
// since the last poll (made by any instance). Run calls Sync every Interval,
// so a revocation made on one instance is refused by every other within about
// one Interval (500 ms by default).
//
// Entries are dropped when the tokens they refuse have expired, a few at a
// time from a queue ordered by expiry (see expire), so the write lock the
// proxy path waits on is never held for a sweep of the whole set.
package revocation

import (
	"container/heap"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/internal/periodic"
)

// Source is where revocations come from: the store.
type Source interface {
	// RevocationsSince returns the revocations with Seq > seq, by Seq.
	RevocationsSince(ctx context.Context, seq int64) ([]store.Revocation, error)
}

// DefaultInterval is the polling interval Run uses when Options.Interval is 0.
const DefaultInterval = 500 * time.Millisecond

// expireBatch is how many expiry-queue items one hold of the write lock
// looks at: a few microseconds of work.
const expireBatch = 64

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

	mu       sync.RWMutex
	jtis     map[string]time.Time  // jti -> expiry
	sessions map[string]time.Time  // sid -> expiry (the whole session)
	gens     map[string]generation // sid -> generations revoked
	clients  map[string]cutoff     // client_id -> cutoff
	subjects map[string]cutoff     // sub -> cutoff
	queue    expiryQueue           // one item per entry that expires
}

// generation revokes, until exp, the tokens of a session whose "sgen"
// claim is below min: the ones its rotations left behind.
type generation struct {
	min int64
	exp time.Time
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
		gens:     make(map[string]generation),
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
	return s.RevokedToken(jti, sessionID, 0, "", "", 0, 0, 0)
}

// RevokedToken reports whether a token is revoked: by its jti, its session
// (the whole session, or the generation sessionGen, its "sgen" claim, 0
// when absent, when a rotation has moved the session past it), or a cutoff of its client (clientID, the client_id claim) or its subject
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
func (s *Set) RevokedToken(jti, sessionID string, sessionGen int64, clientID, subject string, issuedAt, clientCreated, userCreated int64) bool {
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
		if sessionGen > 0 {
			if g, ok := s.gens[sessionID]; ok && sessionGen < g.min {
				return true
			}
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
		old, ok := s.jtis[r.JTI]
		if !ok || later(r.ExpiresAt, old) {
			s.jtis[r.JTI] = r.ExpiresAt
		}
		s.track(ok, r.JTI, kindJTI, r.ExpiresAt)
	}
	switch {
	case r.SessionID != "" && r.Generation > 0:
		if _, whole := s.sessions[r.SessionID]; whole {
			break // the whole session is refused already
		}
		old, ok := s.gens[r.SessionID]
		g := generation{min: max(r.Generation, old.min), exp: r.ExpiresAt}
		if ok && !later(g.exp, old.exp) {
			g.exp = old.exp
		}
		s.gens[r.SessionID] = g
		s.track(ok, r.SessionID, kindGen, g.exp)
	case r.SessionID != "":
		old, ok := s.sessions[r.SessionID]
		if !ok || later(r.ExpiresAt, old) {
			s.sessions[r.SessionID] = r.ExpiresAt
		}
		s.track(ok, r.SessionID, kindSession, r.ExpiresAt)
		delete(s.gens, r.SessionID) // refused whole from now on
	}
	if r.ClientID != "" {
		_, ok := s.clients[r.ClientID]
		addCutoff(s.clients, r.ClientID, r)
		s.track(ok, r.ClientID, kindClient, r.ExpiresAt)
	}
	if r.Subject != "" {
		_, ok := s.subjects[r.Subject]
		addCutoff(s.subjects, r.Subject, r)
		s.track(ok, r.Subject, kindSubject, r.ExpiresAt)
	}
}

// track queues a new entry for expiry (existed: it was queued when it was
// made; a later expiry is found when its item comes up). An entry that
// never expires is not queued.
func (s *Set) track(existed bool, key string, kind entryKind, exp time.Time) {
	if existed || exp.IsZero() {
		return
	}
	heap.Push(&s.queue, expiryItem{key: key, kind: kind, exp: exp.UnixNano()})
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
	if len(revs) > 0 {
		s.mu.Lock()
		for _, r := range revs {
			if r.Seq > s.seq {
				s.seq = r.Seq
			}
			if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
				continue // already expired: the token is refused anyway
			}
			s.addLocked(r)
		}
		s.mu.Unlock()
	}
	s.expire(now)
	return nil
}

// expire drops the entries whose tokens have expired by now. It takes the
// write lock for at most expireBatch queue items at a time, so a reader
// never waits for more than a few microseconds, however many entries
// expire together; when nothing is due it only peeks at the queue's head.
func (s *Set) expire(now time.Time) {
	at := now.UnixNano()
	for {
		s.mu.Lock()
		n := 0
		for ; n < expireBatch && len(s.queue) > 0 && s.queue[0].exp <= at; n++ {
			it := heap.Pop(&s.queue).(expiryItem)
			if exp, ok := s.expiryOf(it); ok && exp.UnixNano() > at {
				// Extended since it was queued: queue it again for then.
				it.exp = exp.UnixNano()
				heap.Push(&s.queue, it)
				continue
			}
			s.drop(it)
		}
		more := len(s.queue) > 0 && s.queue[0].exp <= at
		s.mu.Unlock()
		if !more {
			return
		}
	}
}

// expiryOf returns the current expiry of the entry it names; ok is false
// when the entry is gone (a session's generations, after the session was
// revoked whole).
func (s *Set) expiryOf(it expiryItem) (exp time.Time, ok bool) {
	switch it.kind {
	case kindJTI:
		exp, ok = s.jtis[it.key]
	case kindSession:
		exp, ok = s.sessions[it.key]
	case kindGen:
		var g generation
		g, ok = s.gens[it.key]
		exp = g.exp
	case kindClient:
		var c cutoff
		c, ok = s.clients[it.key]
		exp = c.exp
	case kindSubject:
		var c cutoff
		c, ok = s.subjects[it.key]
		exp = c.exp
	}
	return exp, ok
}

func (s *Set) drop(it expiryItem) {
	switch it.kind {
	case kindJTI:
		delete(s.jtis, it.key)
	case kindSession:
		delete(s.sessions, it.key)
	case kindGen:
		delete(s.gens, it.key)
	case kindClient:
		delete(s.clients, it.key)
	case kindSubject:
		delete(s.subjects, it.key)
	}
}

// Len returns the number of entries held: revoked tokens, sessions
// (revoked whole, or their rotated-out generations: at most one per
// session), and client and subject cutoffs.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.jtis) + len(s.sessions) + len(s.gens) + len(s.clients) + len(s.subjects)
}

// Run calls Sync every Interval until ctx is done. Failures are logged (once
// per run of failures) and retried at the next tick.
func (s *Set) Run(ctx context.Context) {
	periodic.Follow(ctx, s.interval, nil, s.Sync,
		func(err error) { s.log.ErrorContext(ctx, "revocation sync failed", "error", err) },
		func() { s.log.InfoContext(ctx, "revocation sync recovered") })
}

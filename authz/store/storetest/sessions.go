package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))

	sess := newSession("s1", "app", t0.Add(720*time.Hour))
	rt := newRefresh("rt1", t0.Add(720*time.Hour))
	rt.SessionID = "ignored: the store sets it"
	must(t, s.CreateSession(ctx, sess, &rt))

	got, err := s.GetSession(ctx, "s1")
	must(t, err)
	same(t, got, sess)
	gotRT, err := s.GetRefreshToken(ctx, hash("rt1"))
	must(t, err)
	rt.SessionID = "s1"
	same(t, gotRT, rt)

	t.Run("session without refresh token", func(t *testing.T) {
		a2a := newSession("a2a-1", "app", t0.Add(8760*time.Hour))
		a2a.Kind = store.KindA2A
		must(t, s.CreateSession(ctx, a2a, nil))
		got, err := s.GetSession(ctx, "a2a-1")
		must(t, err)
		same(t, got, a2a)
	})
	t.Run("duplicate session id conflicts", func(t *testing.T) {
		rt := newRefresh("rt-dup", t0.Add(time.Hour))
		wantErr(t, s.CreateSession(ctx, newSession("s1", "app", t0.Add(time.Hour)), &rt), store.ErrConflict)
		_, err := s.GetRefreshToken(ctx, hash("rt-dup"))
		wantErr(t, err, store.ErrNotFound)
	})
	t.Run("unknown client is not found", func(t *testing.T) {
		wantErr(t, s.CreateSession(ctx, newSession("s-orphan", "ghost", t0.Add(time.Hour)), nil), store.ErrNotFound)
		_, err := s.GetSession(ctx, "s-orphan")
		wantErr(t, err, store.ErrNotFound)
	})
	t.Run("session and first token are one transaction", func(t *testing.T) {
		clash := newRefresh("rt1", t0.Add(time.Hour)) // hash already stored
		wantErr(t, s.CreateSession(ctx, newSession("s-clash", "app", t0.Add(time.Hour)), &clash), store.ErrConflict)
		_, err := s.GetSession(ctx, "s-clash")
		wantErr(t, err, store.ErrNotFound)
	})
	t.Run("missing session and token are not found", func(t *testing.T) {
		_, err := s.GetSession(ctx, "nope")
		wantErr(t, err, store.ErrNotFound)
		_, err = s.GetRefreshToken(ctx, hash("nope"))
		wantErr(t, err, store.ErrNotFound)
	})
}

func testListSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))
	must(t, s.CreateClient(ctx, sampleClient("other")))
	mk := func(id, client string, created, exp time.Time) {
		sess := newSession(id, client, exp)
		sess.CreatedAt = created
		must(t, s.CreateSession(ctx, sess, nil))
	}
	mk("old", "app", t0.Add(-2*time.Hour), t0.Add(time.Hour))
	mk("new", "app", t0.Add(-time.Hour), t0.Add(time.Hour))
	mk("expired", "app", t0.Add(-3*time.Hour), t0)
	mk("revoked", "app", t0.Add(-time.Minute), t0.Add(time.Hour))
	mk("elsewhere", "other", t0, t0.Add(time.Hour))
	must(t, s.RevokeSession(ctx, "revoked", t0.Add(-time.Second)))

	tests := []struct {
		name   string
		client string
		now    time.Time
		want   []string
		count  int64
	}{
		{"active only, newest first", "app", t0, []string{"new", "old"}, 3},
		{"a second before expiry", "app", t0.Add(-time.Second), []string{"new", "old", "expired"}, 4},
		{"at expiry the session has ended", "app", t0.Add(time.Hour), nil, 0},
		{"another client's sessions", "other", t0, []string{"elsewhere"}, 3},
		{"unknown client has none", "ghost", t0, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListSessions(ctx, tt.client, tt.now)
			must(t, err)
			wantIDs(t, "sessions", sessionIDs(got), tt.want)
			for _, sess := range got {
				if !sess.Active(tt.now) {
					t.Fatalf("listed session %s is not active", sess.ID)
				}
			}
			n, err := s.CountActiveSessions(ctx, tt.now)
			must(t, err)
			if n != tt.count {
				t.Fatalf("CountActiveSessions = %d, want %d", n, tt.count)
			}
		})
	}
}

func testRotateRefresh(t *testing.T, s store.Store) {
	ctx := t.Context()
	seed(t, s, "app", "fam", "rt0")
	before, err := s.RevocationsSince(ctx, 0)
	must(t, err)

	now := t0.Add(time.Hour)
	next := newRefresh("rt1", now.Add(1000*time.Hour))
	next.AccessExpiresAt = now.Add(time.Hour)
	next.CreatedAt = now
	sess, err := s.RotateRefresh(ctx, "app", hash("rt0"), next, now)
	must(t, err)
	want := newSession("fam", "app", now.Add(1000*time.Hour)) // extended to cover the new token
	same(t, sess, want)
	got, err := s.GetSession(ctx, "fam")
	must(t, err)
	same(t, got, want)

	old, err := s.GetRefreshToken(ctx, hash("rt0"))
	must(t, err)
	if !old.UsedAt.Equal(now) {
		t.Fatalf("old token used at %s, want %s", old.UsedAt, now)
	}
	gotNext, err := s.GetRefreshToken(ctx, hash("rt1"))
	must(t, err)
	next.SessionID = "fam"
	same(t, gotNext, next)

	// The access token issued with rt0 is revoked.
	revs, err := s.RevocationsSince(ctx, seqOf(before))
	must(t, err)
	if len(revs) != 1 || revs[0].JTI != "jti-rt0" || !revs[0].ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("revocations after rotation = %+v, want jti-rt0 until %s", revs, t0.Add(time.Hour))
	}

	// The session's expiry never shrinks.
	short := newRefresh("rt2", now.Add(time.Minute))
	sess, err = s.RotateRefresh(ctx, "app", hash("rt1"), short, now.Add(time.Second))
	must(t, err)
	if !sess.ExpiresAt.Equal(now.Add(1000 * time.Hour)) {
		t.Fatalf("session expiry shrank to %s", sess.ExpiresAt)
	}
	n, err := s.CountActiveSessions(ctx, now)
	must(t, err)
	if n != 1 {
		t.Fatalf("active sessions = %d, want 1", n)
	}
}

func seqOf(rs []store.Revocation) int64 {
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)-1].Seq
}

func testRotateRefreshErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	tests := []struct {
		name    string
		setup   func(t *testing.T, sid string) string // after seeding session sid with token "<sid>-rt"; returns the token to present, or ""
		client  string
		present string // "" for the seeded token
		now     time.Time
		want    error
	}{
		{name: "a second before expiry rotates", now: exp.Add(-time.Second)},
		{name: "at token expiry", now: exp, want: store.ErrExpired},
		{name: "after token expiry", now: exp.Add(time.Second), want: store.ErrExpired},
		{name: "unknown token", present: "forged", now: t0, want: store.ErrNotFound},
		{name: "another client's token", client: "thief", now: t0, want: store.ErrNotFound},
		{name: "revoked session", now: t0, want: store.ErrRevoked, setup: func(t *testing.T, sid string) string {
			must(t, s.RevokeSession(ctx, sid, t0))
			return ""
		}},
		{name: "expired session", now: t0.Add(30 * time.Minute), want: store.ErrExpired, setup: func(t *testing.T, sid string) string {
			sess := newSession(sid+"-short", "app", t0.Add(time.Minute))
			rt := newRefresh(sid+"-short-rt", exp)
			must(t, s.CreateSession(ctx, sess, &rt))
			return sid + "-short-rt"
		}},
	}
	must(t, s.CreateClient(ctx, sampleClient("app")))
	must(t, s.CreateClient(ctx, sampleClient("thief")))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sid := fmt.Sprintf("sess-%d", i)
			rt := newRefresh(sid+"-rt", exp)
			must(t, s.CreateSession(ctx, newSession(sid, "app", t0.Add(720*time.Hour)), &rt))
			present := sid + "-rt"
			if tt.setup != nil {
				if p := tt.setup(t, sid); p != "" {
					present = p
				}
			}
			if tt.present != "" {
				present = tt.present
			}
			client := "app"
			if tt.client != "" {
				client = tt.client
			}
			_, err := s.RotateRefresh(ctx, client, hash(present), newRefresh(sid+"-next", exp.Add(time.Hour)), tt.now)
			if tt.want == nil {
				must(t, err)
				return
			}
			wantErr(t, err, tt.want)
			// A refused rotation stores nothing.
			_, err = s.GetRefreshToken(ctx, hash(sid+"-next"))
			wantErr(t, err, store.ErrNotFound)
			if tt.want == store.ErrNotFound && tt.present == "" {
				// The rightful client can still rotate it.
				_, err := s.RotateRefresh(ctx, "app", hash(present), newRefresh(sid+"-next", exp.Add(time.Hour)), t0)
				must(t, err)
			}
		})
	}

	t.Run("reuse revokes the session", func(t *testing.T) {
		seed(t, s, "app", "fam", "r0")
		_, err := s.RotateRefresh(ctx, "app", hash("r0"), newRefresh("r1", exp), t0)
		must(t, err)
		before, err := s.RevocationsSince(ctx, 0)
		must(t, err)

		_, err = s.RotateRefresh(ctx, "app", hash("r0"), newRefresh("r1-bis", exp), t0.Add(time.Second))
		wantErr(t, err, store.ErrRefreshReused)
		var re *store.RefreshReusedError
		if !errors.As(err, &re) || re.SessionID != "fam" {
			t.Fatalf("error %v does not name session fam", err)
		}
		sess, err := s.GetSession(ctx, "fam")
		must(t, err)
		if !sess.RevokedAt.Equal(t0.Add(time.Second)) {
			t.Fatalf("session revoked at %s, want %s", sess.RevokedAt, t0.Add(time.Second))
		}
		revs, err := s.RevocationsSince(ctx, seqOf(before))
		must(t, err)
		if len(revs) != 1 || revs[0].SessionID != "fam" {
			t.Fatalf("revocations after reuse = %+v, want session fam", revs)
		}
		// The newest token of the family is dead too.
		_, err = s.RotateRefresh(ctx, "app", hash("r1"), newRefresh("r2", exp), t0.Add(2*time.Second))
		wantErr(t, err, store.ErrRevoked)
		// The caller's own RevokeSession is a harmless no-op.
		must(t, s.RevokeSession(ctx, "fam", t0.Add(3*time.Second)))
		sess, err = s.GetSession(ctx, "fam")
		must(t, err)
		if !sess.RevokedAt.Equal(t0.Add(time.Second)) {
			t.Fatalf("second revocation moved revoked_at to %s", sess.RevokedAt)
		}
	})
}

// testRotateRefreshRace rotates one token from two goroutines, many times:
// exactly one wins, the other sees reuse.
func testRotateRefreshRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))
	const rounds = 40
	for i := range rounds {
		sid := fmt.Sprintf("race-%d", i)
		rt := newRefresh(sid, t0.Add(time.Hour))
		must(t, s.CreateSession(ctx, newSession(sid, "app", t0.Add(time.Hour)), &rt))
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for g := range 2 {
			wg.Go(func() {
				_, errs[g] = s.RotateRefresh(ctx, "app", hash(sid), newRefresh(fmt.Sprintf("%s-next-%d", sid, g), t0.Add(time.Hour)), t0)
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrRefreshReused):
				t.Fatalf("round %d: loser got %v, want ErrRefreshReused", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d rotations won, want exactly 1 (errors %v)", i, wins, errs)
		}
	}
}

func testCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))
	code := store.AuthCode{
		Hash: hash("code-1"), ClientID: "app", Subject: "alice", RedirectURI: "https://app.example/cb",
		Scope: "user", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		SessionID: "sess-code-1", CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
	}
	must(t, s.CreateCode(ctx, code))
	wantErr(t, s.CreateCode(ctx, code), store.ErrConflict)

	orphan := code
	orphan.Hash, orphan.ClientID = hash("code-orphan"), "ghost"
	wantErr(t, s.CreateCode(ctx, orphan), store.ErrNotFound)

	now := t0.Add(time.Minute)
	got, err := s.ConsumeCode(ctx, "app", hash("code-1"), now)
	must(t, err)
	code.UsedAt = now
	same(t, got, code)

	_, err = s.ConsumeCode(ctx, "app", hash("never issued"), now)
	wantErr(t, err, store.ErrNotFound)

	exp := t0.Add(5 * time.Minute)
	for _, tt := range []struct {
		name string
		now  time.Time
		want error
	}{
		{"a second before expiry", exp.Add(-time.Second), nil},
		{"at expiry", exp, store.ErrExpired},
		{"after expiry", exp.Add(time.Minute), store.ErrExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := code
			c.Hash, c.UsedAt, c.SessionID = hash("code "+tt.name), time.Time{}, "s "+tt.name
			must(t, s.CreateCode(ctx, c))
			_, err := s.ConsumeCode(ctx, "app", c.Hash, tt.now)
			if tt.want == nil {
				must(t, err)
				return
			}
			wantErr(t, err, tt.want)
		})
	}
}

func testCodeReplay(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))
	mkCode := func(name, sid string) {
		must(t, s.CreateCode(ctx, store.AuthCode{Hash: hash(name), ClientID: "app", Subject: "alice",
			RedirectURI: "https://app.example/cb", Scope: "user", SessionID: sid,
			CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}))
	}

	t.Run("replay after exchange revokes the session", func(t *testing.T) {
		mkCode("c1", "s1")
		_, err := s.ConsumeCode(ctx, "app", hash("c1"), t0)
		must(t, err)
		rt := newRefresh("c1-rt", t0.Add(time.Hour))
		must(t, s.CreateSession(ctx, newSession("s1", "app", t0.Add(time.Hour)), &rt))

		_, err = s.ConsumeCode(ctx, "app", hash("c1"), t0.Add(time.Second))
		wantErr(t, err, store.ErrCodeReused)
		var ce *store.CodeReusedError
		if !errors.As(err, &ce) || ce.Code.SessionID != "s1" || ce.Code.ClientID != "app" {
			t.Fatalf("error %v does not carry the code of session s1", err)
		}
		sess, err := s.GetSession(ctx, "s1")
		must(t, err)
		if sess.Active(t0.Add(time.Second)) {
			t.Fatal("session of a replayed code is still active")
		}
		_, err = s.RotateRefresh(ctx, "app", hash("c1-rt"), newRefresh("c1-rt2", t0.Add(time.Hour)), t0.Add(2*time.Second))
		wantErr(t, err, store.ErrRevoked)
		revs, err := s.RevocationsSince(ctx, 0)
		must(t, err)
		if n := countSession(revs, "s1"); n != 1 {
			t.Fatalf("%d revocations for s1, want 1", n)
		}
		// A third presentation is still a replay, and records nothing new.
		_, err = s.ConsumeCode(ctx, "app", hash("c1"), t0.Add(3*time.Second))
		wantErr(t, err, store.ErrCodeReused)
		revs, err = s.RevocationsSince(ctx, 0)
		must(t, err)
		if n := countSession(revs, "s1"); n != 1 {
			t.Fatalf("%d revocations for s1 after a second replay, want 1", n)
		}
	})
	t.Run("replay after code expiry still revokes", func(t *testing.T) {
		mkCode("c2", "s2")
		_, err := s.ConsumeCode(ctx, "app", hash("c2"), t0)
		must(t, err)
		must(t, s.CreateSession(ctx, newSession("s2", "app", t0.Add(time.Hour)), nil))
		_, err = s.ConsumeCode(ctx, "app", hash("c2"), t0.Add(10*time.Minute))
		wantErr(t, err, store.ErrCodeReused)
		sess, err := s.GetSession(ctx, "s2")
		must(t, err)
		if sess.RevokedAt.IsZero() {
			t.Fatal("session not revoked")
		}
	})
	t.Run("replay before the session exists blocks it", func(t *testing.T) {
		mkCode("c3", "s3")
		_, err := s.ConsumeCode(ctx, "app", hash("c3"), t0)
		must(t, err)
		_, err = s.ConsumeCode(ctx, "app", hash("c3"), t0)
		wantErr(t, err, store.ErrCodeReused)
		wantErr(t, s.CreateSession(ctx, newSession("s3", "app", t0.Add(time.Hour)), nil), store.ErrRevoked)
		revs, err := s.RevocationsSince(ctx, 0)
		must(t, err)
		if countSession(revs, "s3") != 1 {
			t.Fatalf("no revocation recorded for s3: %+v", revs)
		}
	})
}

func countSession(revs []store.Revocation, sid string) int {
	n := 0
	for _, r := range revs {
		if r.SessionID == sid {
			n++
		}
	}
	return n
}

func testCodeRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))
	const rounds = 25
	for i := range rounds {
		name := fmt.Sprintf("code-%d", i)
		must(t, s.CreateCode(ctx, store.AuthCode{Hash: hash(name), ClientID: "app", SessionID: "s-" + name,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for g := range 2 {
			wg.Go(func() { _, errs[g] = s.ConsumeCode(ctx, "app", hash(name), t0) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrCodeReused):
				t.Fatalf("round %d: loser got %v, want ErrCodeReused", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d consumptions won, want exactly 1", i, wins)
		}
	}
}

package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

func testRevocations(t *testing.T, s store.Store) {
	ctx := t.Context()
	empty, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	if len(empty) != 0 {
		t.Fatalf("new store has revocations %+v", empty)
	}
	seed(t, s, "app", "s1", "rt1")
	seed(t, s, "app", "s2", "rt2")

	must(t, s.RevokeJTI(ctx, "jti-a", t0.Add(time.Hour)))
	must(t, s.RevokeSession(ctx, "s1", t0))
	must(t, s.RevokeJTI(ctx, "jti-b", t0.Add(2*time.Hour)))
	must(t, s.RevokeSession(ctx, "s2", t0.Add(time.Second)))

	t.Run("revoking twice is a no-op", func(t *testing.T) {
		must(t, s.RevokeJTI(ctx, "jti-a", t0.Add(5*time.Hour)))
		must(t, s.RevokeSession(ctx, "s1", t0.Add(time.Minute)))
		sess, err := s.GetSession(ctx, "s1")
		must(t, err)
		if !sess.RevokedAt.Equal(t0) {
			t.Fatalf("revoked_at moved to %s", sess.RevokedAt)
		}
	})
	t.Run("unknown session is not found", func(t *testing.T) {
		wantErr(t, s.RevokeSession(ctx, "ghost", t0), store.ErrNotFound)
	})

	all, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	want := []store.Revocation{
		{JTI: "jti-a", ExpiresAt: t0.Add(time.Hour)},
		{SessionID: "s1", ExpiresAt: t0.Add(720 * time.Hour)},
		{JTI: "jti-b", ExpiresAt: t0.Add(2 * time.Hour)},
		{SessionID: "s2", ExpiresAt: t0.Add(720 * time.Hour)},
	}
	if len(all) != len(want) {
		t.Fatalf("revocations = %+v, want %d", all, len(want))
	}
	for i := range all {
		if i > 0 && all[i].Seq <= all[i-1].Seq {
			t.Fatalf("seq not increasing: %+v", all)
		}
		want[i].Seq = all[i].Seq
	}
	same(t, all, want)

	t.Run("since a seq returns only later ones", func(t *testing.T) {
		tail, err := s.RevocationsSince(ctx, all[1].Seq)
		must(t, err)
		same(t, tail, all[2:])
		none, err := s.RevocationsSince(ctx, all[3].Seq)
		must(t, err)
		if len(none) != 0 {
			t.Fatalf("revocations after the last = %+v", none)
		}
	})
	t.Run("revoked session refuses its refresh tokens", func(t *testing.T) {
		_, err := s.RotateRefresh(ctx, "app", hash("rt1"), newRefresh("rt1-next", t0.Add(time.Hour)), t0)
		wantErr(t, err, store.ErrRevoked)
		n, err := s.CountActiveSessions(ctx, t0)
		must(t, err)
		if n != 0 {
			t.Fatalf("active sessions = %d, want 0", n)
		}
	})
}

func testPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))
	must(t, s.RevokeJTI(ctx, "short", t0.Add(time.Minute)))
	must(t, s.RevokeJTI(ctx, "long", t0.Add(10*24*time.Hour)))
	must(t, s.CreateSession(ctx, newSession("gone", "app", t0.Add(time.Hour)), nil))
	must(t, s.CreateSession(ctx, newSession("live", "app", t0.Add(10*24*time.Hour)), nil))
	must(t, s.CreateCode(ctx, store.AuthCode{Hash: hash("code"), ClientID: "app", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	for _, id := range []string{"brief", "lasting"} {
		must(t, s.CreateClient(ctx, sampleClient(id)))
	}
	must(t, s.DeleteClient(ctx, "brief", t0, time.Hour))
	must(t, s.DeleteClient(ctx, "lasting", t0, lifetime))
	must(t, s.AddSigningKey(ctx, store.SigningKey{ID: "old", Alg: "RS256", PublicJWK: []byte("{}"), PrivateSealed: []byte{1},
		CreatedAt: t0, RetiredAt: t0, DropAfter: t0.Add(time.Hour)}))
	must(t, s.AddSigningKey(ctx, store.SigningKey{ID: "cur", Alg: "RS256", PublicJWK: []byte("{}"), PrivateSealed: []byte{2},
		CreatedAt: t0.Add(time.Second)}))
	before, err := s.RevocationsSince(ctx, 0)
	must(t, err)

	// Nothing has ended yet.
	must(t, s.Prune(ctx, t0))
	after, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	same(t, after, before)

	later := t0.Add(3 * 24 * time.Hour)
	must(t, s.Prune(ctx, later))
	after, err = s.RevocationsSince(ctx, 0)
	must(t, err)
	if len(after) != 2 || after[0].JTI != "long" || after[1].ClientID != "lasting" {
		t.Fatalf("revocations after prune = %+v, want only long and the cutoff of lasting", after)
	}
	_, err = s.GetSession(ctx, "gone")
	wantErr(t, err, store.ErrNotFound)
	if _, err := s.GetSession(ctx, "live"); err != nil {
		t.Fatalf("live session pruned: %v", err)
	}
	_, err = s.ConsumeCode(ctx, "app", hash("code"), later)
	wantErr(t, err, store.ErrNotFound)
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	wantIDs(t, "keys", ids(keys, func(k store.SigningKey) string { return k.ID }), []string{"cur"})

	// Seq keeps increasing after pruning.
	must(t, s.RevokeJTI(ctx, "new", later.Add(time.Hour)))
	newer, err := s.RevocationsSince(ctx, seqOf(before))
	must(t, err)
	if len(newer) != 1 || newer[0].JTI != "new" {
		t.Fatalf("revocations after the pre-prune seq = %+v, want only new", newer)
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := store.SigningKey{ID: "k1", Alg: "RS256", PublicJWK: []byte(`{"kty":"RSA","kid":"k1"}`),
		PrivateSealed: []byte{0, 1, 2, 255, 0}, CreatedAt: t0}
	k2 := store.SigningKey{ID: "k2", Alg: "ES256", PublicJWK: []byte(`{"kty":"EC","kid":"k2"}`),
		PrivateSealed: []byte{9, 8, 7}, CreatedAt: t0.Add(time.Hour)}
	must(t, s.AddSigningKey(ctx, k2))
	must(t, s.AddSigningKey(ctx, k1))
	wantErr(t, s.AddSigningKey(ctx, k1), store.ErrConflict)

	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	same(t, keys, []store.SigningKey{k1, k2})

	must(t, s.RetireSigningKey(ctx, "k1", t0.Add(time.Hour), t0.Add(9*time.Hour)))
	wantErr(t, s.RetireSigningKey(ctx, "k9", t0, t0), store.ErrNotFound)
	keys, err = s.ListSigningKeys(ctx)
	must(t, err)
	k1.RetiredAt, k1.DropAfter = t0.Add(time.Hour), t0.Add(9*time.Hour)
	same(t, keys, []store.SigningKey{k1, k2})
}

func testSubscriptions(t *testing.T, s store.Store) {
	ctx := t.Context()
	subs := []store.Subscription{
		{User: "alice", Type: "fmsdata", Name: "Navigraph Unlimited", DateActive: t0, DateExpiry: t0.AddDate(1, 0, 0)},
		{User: "bob", Type: "fmsdata", Name: "Navigraph Navdata", DateActive: t0, DateExpiry: t0.AddDate(0, 1, 0)},
		{User: "alice", Type: "charts", Name: "Charts", DateActive: t0.AddDate(0, -1, 0), DateExpiry: t0},
	}
	for i := range subs {
		got, err := s.AddSubscription(ctx, subs[i])
		must(t, err)
		if got.ID == 0 {
			t.Fatal("subscription got no id")
		}
		subs[i].ID = got.ID
		same(t, got, subs[i])
	}
	if subs[0].ID == subs[1].ID || subs[1].ID == subs[2].ID {
		t.Fatalf("duplicate subscription ids %d %d %d", subs[0].ID, subs[1].ID, subs[2].ID)
	}
	alice, err := s.ListSubscriptions(ctx, "alice")
	must(t, err)
	same(t, alice, []store.Subscription{subs[0], subs[2]})
	none, err := s.ListSubscriptions(ctx, "carol")
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("carol has %d subscriptions", len(none))
	}
	must(t, s.RemoveSubscription(ctx, subs[0].ID))
	wantErr(t, s.RemoveSubscription(ctx, subs[0].ID), store.ErrNotFound)
	alice, err = s.ListSubscriptions(ctx, "alice")
	must(t, err)
	same(t, alice, []store.Subscription{subs[2]})
}

// testTimes checks that times in any zone come back as the same instant in
// UTC with microsecond precision, and that zero stays zero.
func testTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	local := time.Date(2031, 12, 31, 23, 59, 59, 999999000, zone)
	c := sampleClient("timed")
	c.CreatedAt = local
	must(t, s.CreateClient(ctx, c))
	got, err := s.GetClient(ctx, "timed")
	must(t, err)
	if !got.CreatedAt.Equal(local) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("created_at = %s, want %s in UTC", got.CreatedAt, local.UTC())
	}
	sess := newSession("timed", "timed", local.Add(time.Hour))
	sess.CreatedAt = time.Date(1999, 1, 1, 0, 0, 0, 1000, time.UTC)
	must(t, s.CreateSession(ctx, sess, nil))
	gotS, err := s.GetSession(ctx, "timed")
	must(t, err)
	same(t, gotS, sess)
	if !gotS.RevokedAt.IsZero() {
		t.Fatalf("revoked_at = %s, want zero", gotS.RevokedAt)
	}
}

// testConcurrentReadsWrites runs readers alongside writers; with -race it
// also checks the implementation's own synchronisation.
func testConcurrentReadsWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("busy")))
	const writers, readers, each = 3, 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, (writers+readers)*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				rt := newRefresh(id, t0.Add(time.Hour))
				if err := s.CreateSession(ctx, newSession(id, "busy", t0.Add(time.Hour)), &rt); err != nil {
					errs <- err
					return
				}
				if err := s.RevokeJTI(ctx, "jti-"+id, t0.Add(time.Hour)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range each {
				if _, err := s.GetClient(ctx, "busy"); err != nil {
					errs <- err
					return
				}
				if _, err := s.ListSessions(ctx, "busy", t0); err != nil {
					errs <- err
					return
				}
				if _, err := s.RevocationsSince(ctx, 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n, err := s.CountActiveSessions(ctx, t0)
	must(t, err)
	if n != writers*each {
		t.Fatalf("active sessions = %d, want %d", n, writers*each)
	}
	revs, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	if len(revs) != writers*each {
		t.Fatalf("revocations = %d, want %d", len(revs), writers*each)
	}
}

// testPersistence writes one of everything, closes the store, reopens it
// and reads everything back.
func testPersistence(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t, "persist")
	c := sampleClient("kept")
	must(t, s.CreateClient(ctx, c))
	u := store.User{Name: "alice", PasswordHash: "$argon2id$...", Admin: true, CreatedAt: t0}
	must(t, s.CreateUser(ctx, u))
	sess := newSession("sess", "kept", t0.Add(720*time.Hour))
	rt := newRefresh("rt", t0.Add(720*time.Hour))
	must(t, s.CreateSession(ctx, sess, &rt))
	k := store.SigningKey{ID: "k", Alg: "EdDSA", PublicJWK: []byte("{}"), PrivateSealed: []byte("sealed"), CreatedAt: t0}
	must(t, s.AddSigningKey(ctx, k))
	sub, err := s.AddSubscription(ctx, store.Subscription{User: "alice", Type: "fmsdata", Name: "n", DateActive: t0, DateExpiry: t0.Add(time.Hour)})
	must(t, err)
	must(t, s.RevokeJTI(ctx, "jti", t0.Add(time.Hour)))
	must(t, s.AddUsage(ctx, []store.UsageCount{{Key: "kept", Day: t0, Count: 42}}))
	must(t, s.CreateClient(ctx, sampleClient("gone")))
	must(t, s.DeleteClient(ctx, "gone", t0, lifetime))
	revs, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	if len(revs) != 2 || revs[1].ClientID != "gone" || revs[1].Cutoff.IsZero() {
		t.Fatalf("revocations before the reopen = %+v, want a jti and a cutoff", revs)
	}
	must(t, s.Close())

	s = openClosed(t, open, "persist")
	gotC, err := s.GetClient(ctx, "kept")
	must(t, err)
	same(t, gotC, c)
	gotU, err := s.GetUser(ctx, "alice")
	must(t, err)
	same(t, gotU, u)
	gotS, err := s.GetSession(ctx, "sess")
	must(t, err)
	same(t, gotS, sess)
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	same(t, keys, []store.SigningKey{k})
	subs, err := s.ListSubscriptions(ctx, "alice")
	must(t, err)
	same(t, subs, []store.Subscription{sub})
	gotRevs, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	same(t, gotRevs, revs)
	usage, err := s.UsageSince(ctx, "kept", t0)
	must(t, err)
	same(t, usage, []store.UsageCount{{Key: "kept", Day: utcDay(t0), Count: 42}})

	// State keeps working after the reopen.
	_, err = s.RotateRefresh(ctx, "kept", hash("rt"), newRefresh("rt2", t0.Add(720*time.Hour)), t0.Add(time.Minute))
	must(t, err)
	newRevs, err := s.RevocationsSince(ctx, seqOf(revs))
	must(t, err)
	if len(newRevs) != 1 || newRevs[0].Seq <= seqOf(revs) {
		t.Fatalf("revocations after reopen = %+v", newRevs)
	}
}

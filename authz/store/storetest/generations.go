package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

// testSessionGenerations: a session created at FirstGeneration moves one
// generation per rotation, and its rotated-out tokens are revoked by one
// revocation row per session, replaced at each rotation (a new Seq, the old
// row gone, the expiry never shrinking), never by one row per token.
// Revoking the session replaces that row by the session's own.
func testSessionGenerations(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))
	sess := newSession("gen", "app", t0.Add(720*time.Hour))
	sess.Generation = store.FirstGeneration
	first := newRefresh("gen-0", t0.Add(720*time.Hour))
	must(t, s.CreateSession(ctx, sess, &first))
	got, err := s.GetSession(ctx, "gen")
	must(t, err)
	if got.Generation != store.FirstGeneration {
		t.Fatalf("new session generation = %d, want %d", got.Generation, store.FirstGeneration)
	}
	start, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	seq := seqOf(start)

	// Access token lifetimes that go down then up: the row's expiry is
	// the latest of every rotated-out token.
	accessExp := []time.Duration{2 * time.Hour, time.Hour, 3 * time.Hour, time.Hour, time.Hour}
	wantExp := t0.Add(time.Hour) // the first token's
	for i, ttl := range accessExp {
		now := t0.Add(time.Duration(i+1) * time.Minute)
		next := newRefresh(fmt.Sprintf("gen-%d", i+1), t0.Add(720*time.Hour))
		next.AccessExpiresAt = now.Add(ttl)
		rotated, err := s.RotateRefresh(ctx, "app", hash(fmt.Sprintf("gen-%d", i)), next, now)
		must(t, err)
		wantGen := store.FirstGeneration + int64(i) + 1
		if rotated.Generation != wantGen {
			t.Fatalf("rotation %d: generation = %d, want %d", i+1, rotated.Generation, wantGen)
		}
		if got, err := s.GetSession(ctx, "gen"); err != nil || got.Generation != wantGen {
			t.Fatalf("rotation %d: stored generation = %d (%v), want %d", i+1, got.Generation, err, wantGen)
		}
		revs, err := s.RevocationsSince(ctx, seq)
		must(t, err)
		if len(revs) != 1 {
			t.Fatalf("rotation %d recorded %d revocations, want 1: %+v", i+1, len(revs), revs)
		}
		r := revs[0]
		if r.SessionID != "gen" || r.Generation != wantGen || r.JTI != "" || !r.ExpiresAt.Equal(wantExp) {
			t.Fatalf("rotation %d: revocation = %+v, want session gen below %d until %s", i+1, r, wantGen, wantExp)
		}
		seq = r.Seq
		wantExp = latest(wantExp, next.AccessExpiresAt)

		all, err := s.RevocationsSince(ctx, 0)
		must(t, err)
		if n := len(all) - len(start); n != 1 {
			t.Fatalf("after %d rotations the store holds %d revocation rows for the session, want 1: %+v", i+1, n, all)
		}
	}

	// Revoking the session: one row, the whole session, and the
	// generation row is gone.
	must(t, s.RevokeSession(ctx, "gen", t0.Add(time.Hour)))
	all, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	var mine []store.Revocation
	for _, r := range all {
		if r.SessionID == "gen" {
			mine = append(mine, r)
		}
	}
	if len(mine) != 1 || mine[0].Generation != 0 {
		t.Fatalf("revocations of the revoked session = %+v, want one whole-session row", mine)
	}

	// A session without generations (tokens minted before them) keeps
	// the jti rule.
	seed(t, s, "app", "legacy", "legacy-0")
	before, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	next := newRefresh("legacy-1", t0.Add(720*time.Hour))
	rotated, err := s.RotateRefresh(ctx, "app", hash("legacy-0"), next, t0.Add(time.Minute))
	must(t, err)
	if rotated.Generation != 0 {
		t.Fatalf("legacy session generation = %d after a rotation, want 0", rotated.Generation)
	}
	revs, err := s.RevocationsSince(ctx, seqOf(before))
	must(t, err)
	if len(revs) != 1 || revs[0].JTI != "jti-legacy-0" || revs[0].Generation != 0 {
		t.Fatalf("legacy rotation revocations = %+v, want jti-legacy-0", revs)
	}
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

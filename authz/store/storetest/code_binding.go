package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

// testCodeBinding holds ConsumeCode to its client: a code presented by
// another client is not found, and nothing changes, whether the code is
// fresh, used or expired; its own client can still redeem it.
func testCodeBinding(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))
	must(t, s.CreateClient(ctx, sampleClient("thief")))
	mkCode := func(name string) store.AuthCode {
		c := store.AuthCode{Hash: hash(name), ClientID: "app", Subject: "alice",
			RedirectURI: "https://app.example/cb", Scope: "user", SessionID: "s-" + name,
			CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
		must(t, s.CreateCode(ctx, c))
		return c
	}
	noRevocation := func(t *testing.T, sid string) {
		t.Helper()
		revs, err := s.RevocationsSince(ctx, 0)
		must(t, err)
		if n := countSession(revs, sid); n != 0 {
			t.Fatalf("%d revocations recorded for %s, want none", n, sid)
		}
	}

	t.Run("a fresh code stays usable by its client", func(t *testing.T) {
		c := mkCode("fresh")
		for _, other := range []string{"thief", "", "APP", "no such client"} {
			_, err := s.ConsumeCode(ctx, other, c.Hash, t0.Add(time.Second))
			wantErr(t, err, store.ErrNotFound)
		}
		now := t0.Add(2 * time.Second)
		got, err := s.ConsumeCode(ctx, "app", c.Hash, now)
		must(t, err)
		c.UsedAt = now
		same(t, got, c)
		noRevocation(t, c.SessionID)
	})
	t.Run("a used code presented by another client revokes nothing", func(t *testing.T) {
		c := mkCode("used")
		_, err := s.ConsumeCode(ctx, "app", c.Hash, t0)
		must(t, err)
		rt := newRefresh("used-rt", t0.Add(time.Hour))
		must(t, s.CreateSession(ctx, newSession(c.SessionID, "app", t0.Add(time.Hour)), &rt))

		_, err = s.ConsumeCode(ctx, "thief", c.Hash, t0.Add(time.Second))
		wantErr(t, err, store.ErrNotFound)
		sess, err := s.GetSession(ctx, c.SessionID)
		must(t, err)
		if !sess.Active(t0.Add(time.Second)) {
			t.Fatal("another client's replay revoked the session")
		}
		noRevocation(t, c.SessionID)
		_, err = s.RotateRefresh(ctx, "app", hash("used-rt"), newRefresh("used-rt2", t0.Add(time.Hour)), t0.Add(2*time.Second))
		must(t, err)
		// Its own client's replay still revokes.
		_, err = s.ConsumeCode(ctx, "app", c.Hash, t0.Add(3*time.Second))
		wantErr(t, err, store.ErrCodeReused)
	})
	t.Run("an expired code presented by another client is not found", func(t *testing.T) {
		c := mkCode("expired")
		_, err := s.ConsumeCode(ctx, "thief", c.Hash, c.ExpiresAt)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.ConsumeCode(ctx, "app", c.Hash, c.ExpiresAt)
		wantErr(t, err, store.ErrExpired)
	})
	t.Run("a replay by another client before the session exists does not block it", func(t *testing.T) {
		c := mkCode("early")
		_, err := s.ConsumeCode(ctx, "app", c.Hash, t0)
		must(t, err)
		_, err = s.ConsumeCode(ctx, "thief", c.Hash, t0)
		wantErr(t, err, store.ErrNotFound)
		must(t, s.CreateSession(ctx, newSession(c.SessionID, "app", t0.Add(time.Hour)), nil))
		noRevocation(t, c.SessionID)
	})
}

// testCodeBindingRace consumes each code from its client and from other
// clients at once: its client always wins, whatever the order, the others
// always get ErrNotFound, and no revocation is recorded.
func testCodeBindingRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, sampleClient("app")))
	must(t, s.CreateClient(ctx, sampleClient("thief")))
	const (
		rounds  = 25
		thieves = 3
	)
	for i := range rounds {
		name := fmt.Sprintf("code-%d", i)
		must(t, s.CreateCode(ctx, store.AuthCode{Hash: hash(name), ClientID: "app", SessionID: "s-" + name,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
		var (
			wg     sync.WaitGroup
			errs   [thieves]error
			ownErr error
		)
		for g := range thieves {
			wg.Go(func() { _, errs[g] = s.ConsumeCode(ctx, "thief", hash(name), t0) })
		}
		wg.Go(func() { _, ownErr = s.ConsumeCode(ctx, "app", hash(name), t0) })
		wg.Wait()
		if ownErr != nil {
			t.Fatalf("round %d: its own client got %v", i, ownErr)
		}
		for g, err := range errs {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("round %d: other client %d got %v, want ErrNotFound", i, g, err)
			}
		}
	}
	revs, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	if len(revs) != 0 {
		t.Fatalf("revocations recorded: %+v", revs)
	}
}

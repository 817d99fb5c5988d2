package storetest

import (
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

func testClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.Ping(ctx))

	b := sampleClient("b-client")
	must(t, s.CreateClient(ctx, b))
	got, err := s.GetClient(ctx, "b-client")
	must(t, err)
	same(t, got, b)

	t.Run("duplicate id conflicts", func(t *testing.T) {
		wantErr(t, s.CreateClient(ctx, sampleClient("b-client")), store.ErrConflict)
	})
	t.Run("missing client is not found", func(t *testing.T) {
		_, err := s.GetClient(ctx, "nobody")
		wantErr(t, err, store.ErrNotFound)
	})

	// A public client: no secret, no lists, another owner.
	a := store.Client{ID: "a client", Name: "A", Owner: "bob", CreatedAt: t0.Add(time.Second)}
	must(t, s.CreateClient(ctx, a))
	got, err = s.GetClient(ctx, "a client")
	must(t, err)
	same(t, got, a)
	if got.SecretHash != nil && len(got.SecretHash) != 0 {
		t.Fatalf("public client secret hash = %x, want none", got.SecretHash)
	}
	c := sampleClient("c-client")
	c.Owner = ""
	must(t, s.CreateClient(ctx, c))

	t.Run("list all ordered by id", func(t *testing.T) {
		all, err := s.ListClients(ctx, "")
		must(t, err)
		wantIDs(t, "clients", ids(all, func(c store.Client) string { return c.ID }), []string{"a client", "b-client", "c-client"})
		same(t, all[1], b)
	})
	t.Run("list by owner", func(t *testing.T) {
		mine, err := s.ListClients(ctx, "alice")
		must(t, err)
		wantIDs(t, "alice's clients", ids(mine, func(c store.Client) string { return c.ID }), []string{"b-client"})
		none, err := s.ListClients(ctx, "carol")
		must(t, err)
		if len(none) != 0 {
			t.Fatalf("carol owns %d clients, want 0", len(none))
		}
	})
	t.Run("update replaces fields but keeps created_at", func(t *testing.T) {
		u := b
		u.Name = "Renamed"
		u.SecretHash = hash("rotated")
		u.Grants = []string{"client_credentials"}
		u.Scopes = nil
		u.RedirectURIs = []string{"https://new.example/cb"}
		u.AllowedOrigins = nil
		u.FirstParty = false
		u.Owner = "bob"
		u.AccessTTL, u.RefreshTTL = time.Hour, 0
		u.CreatedAt = t0.Add(99 * time.Hour)
		must(t, s.UpdateClient(ctx, u))
		got, err := s.GetClient(ctx, "b-client")
		must(t, err)
		u.CreatedAt = b.CreatedAt
		same(t, got, u)
	})
	t.Run("update of a missing client is not found", func(t *testing.T) {
		wantErr(t, s.UpdateClient(ctx, sampleClient("ghost")), store.ErrNotFound)
		if _, err := s.GetClient(ctx, "ghost"); err == nil {
			t.Fatal("update created a client")
		}
	})
	t.Run("delete", func(t *testing.T) {
		must(t, s.DeleteClient(ctx, "a client", t0))
		_, err := s.GetClient(ctx, "a client")
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, s.DeleteClient(ctx, "a client", t0), store.ErrNotFound)
		all, err := s.ListClients(ctx, "")
		must(t, err)
		wantIDs(t, "clients after delete", ids(all, func(c store.Client) string { return c.ID }), []string{"b-client", "c-client"})
	})
}

func testUpsertClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := sampleClient("declared")
	must(t, s.UpsertClient(ctx, c))
	got, err := s.GetClient(ctx, "declared")
	must(t, err)
	same(t, got, c)

	changed := c
	changed.Name, changed.SecretHash, changed.Scopes = "Declared again", hash("new secret"), []string{"fmsdata"}
	changed.CreatedAt = t0.Add(time.Hour)
	must(t, s.UpsertClient(ctx, changed))
	got, err = s.GetClient(ctx, "declared")
	must(t, err)
	changed.CreatedAt = c.CreatedAt
	same(t, got, changed)

	// Sessions survive an upsert (a restart re-declares the client).
	seed(t, s, "declared", "sess-1", "rt-1")
	must(t, s.UpsertClient(ctx, changed))
	if _, err := s.GetSession(ctx, "sess-1"); err != nil {
		t.Fatalf("session lost by upsert: %v", err)
	}
}

func testDeleteClientCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	seed(t, s, "doomed", "live", "rt-live")
	seed(t, s, "doomed", "revoked", "rt-revoked")
	seed(t, s, "kept", "other", "rt-other")
	expired := newSession("expired", "doomed", t0.Add(-time.Hour))
	must(t, s.CreateSession(ctx, expired, nil))
	must(t, s.RevokeSession(ctx, "revoked", t0))
	must(t, s.CreateCode(ctx, store.AuthCode{Hash: hash("code"), ClientID: "doomed", SessionID: "later",
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}))
	before, err := s.RevocationsSince(ctx, 0)
	must(t, err)
	last := before[len(before)-1].Seq

	must(t, s.DeleteClient(ctx, "doomed", t0))

	for _, id := range []string{"live", "revoked", "expired"} {
		_, err := s.GetSession(ctx, id)
		wantErr(t, err, store.ErrNotFound)
	}
	for _, rt := range []string{"rt-live", "rt-revoked"} {
		_, err := s.GetRefreshToken(ctx, hash(rt))
		wantErr(t, err, store.ErrNotFound)
	}
	_, err = s.ConsumeCode(ctx, "doomed", hash("code"), t0)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.RotateRefresh(ctx, "doomed", hash("rt-live"), newRefresh("rt-next", t0.Add(time.Hour)), t0)
	wantErr(t, err, store.ErrNotFound)

	// Only the session that was still active gets a new revocation.
	after, err := s.RevocationsSince(ctx, last)
	must(t, err)
	if len(after) != 1 || after[0].SessionID != "live" || after[0].JTI != "" {
		t.Fatalf("revocations recorded by delete = %+v, want one for session live", after)
	}
	if !after[0].ExpiresAt.Equal(t0.Add(720 * time.Hour)) {
		t.Fatalf("revocation expires %s, want the session's expiry", after[0].ExpiresAt)
	}
	// The other client is untouched.
	sess, err := s.GetSession(ctx, "other")
	must(t, err)
	if !sess.Active(t0) {
		t.Fatal("other client's session was revoked")
	}
	if _, err := s.GetRefreshToken(ctx, hash("rt-other")); err != nil {
		t.Fatalf("other client's refresh token: %v", err)
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := []store.User{
		{Name: "zoe", PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", CreatedAt: t0},
		{Name: "alice", PasswordHash: "$argon2id$x", Admin: true, CreatedAt: t0.Add(time.Minute)},
	}
	for _, u := range users {
		must(t, s.CreateUser(ctx, u))
	}
	got, err := s.GetUser(ctx, "alice")
	must(t, err)
	same(t, got, users[1])
	wantErr(t, s.CreateUser(ctx, store.User{Name: "alice", PasswordHash: "x"}), store.ErrConflict)
	got, err = s.GetUser(ctx, "alice")
	must(t, err)
	same(t, got, users[1])
	_, err = s.GetUser(ctx, "mallory")
	wantErr(t, err, store.ErrNotFound)
	all, err := s.ListUsers(ctx)
	must(t, err)
	same(t, all, []store.User{users[1], users[0]})
}

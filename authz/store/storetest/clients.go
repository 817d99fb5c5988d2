package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
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
		u.PortalMade = false
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
		must(t, s.DeleteClient(ctx, "a client", t0, lifetime))
		_, err := s.GetClient(ctx, "a client")
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, s.DeleteClient(ctx, "a client", t0, lifetime), store.ErrNotFound)
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
	changed.PortalMade = false // the file takes a portal client's id over
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

	must(t, s.DeleteClient(ctx, "doomed", t0, lifetime))

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

	// The session that was still active gets a revocation, and every
	// token of the client (client_credentials ones have no session) a
	// cutoff at t0 exactly, kept as long as a token issued up to t0
	// rounded up to the second lives.
	after, err := s.RevocationsSince(ctx, last)
	must(t, err)
	sec := time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC)
	want := []store.Revocation{
		{SessionID: "live", ExpiresAt: t0.Add(720 * time.Hour)},
		{ClientID: "doomed", Cutoff: t0, ExpiresAt: sec.Add(lifetime)},
	}
	if len(after) != len(want) {
		t.Fatalf("revocations recorded by delete = %+v, want %+v", after, want)
	}
	for i := range after {
		want[i].Seq = after[i].Seq
	}
	same(t, after, want)

	t.Run("a client's own longer access TTL keeps the cutoff longer", func(t *testing.T) {
		c := sampleClient("slow")
		c.AccessTTL = 2 * lifetime
		must(t, s.CreateClient(ctx, c))
		must(t, s.DeleteClient(ctx, "slow", t0, lifetime))
		revs, err := s.RevocationsSince(ctx, seqOf(after))
		must(t, err)
		if len(revs) != 1 || revs[0].ClientID != "slow" || !revs[0].ExpiresAt.Equal(sec.Add(2*lifetime)) {
			t.Fatalf("revocations = %+v, want a cutoff for slow until %s", revs, sec.Add(2*lifetime))
		}
	})
	t.Run("a cutoff is never before the client's creation", func(t *testing.T) {
		c := sampleClient("ahead")
		c.CreatedAt = t0.Add(time.Minute) // made on a clock ahead of the deleting one
		must(t, s.CreateClient(ctx, c))
		before, err := s.RevocationsSince(ctx, 0)
		must(t, err)
		must(t, s.DeleteClient(ctx, "ahead", t0, lifetime))
		revs, err := s.RevocationsSince(ctx, seqOf(before))
		must(t, err)
		if len(revs) != 1 || !revs[0].Cutoff.Equal(c.CreatedAt) {
			t.Fatalf("revocations = %+v, want a cutoff at the creation, %s", revs, c.CreatedAt)
		}
	})
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
		{Name: "alice", PasswordHash: "$argon2id$x", Admin: true, Scopes: []string{"manage_users", "charts"}, Plan: "charts-pro", CreatedAt: t0.Add(time.Minute)},
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

	t.Run("update replaces fields but keeps name and created_at", func(t *testing.T) {
		u := users[0]
		u.PasswordHash, u.Admin, u.Scopes, u.Plan = "$argon2id$new", true, []string{"fmsdata"}, "free"
		u.CreatedAt = t0.Add(99 * time.Hour)
		must(t, s.UpdateUser(ctx, u))
		got, err := s.GetUser(ctx, "zoe")
		must(t, err)
		u.CreatedAt = users[0].CreatedAt
		same(t, got, u)

		u.Scopes = nil
		must(t, s.UpdateUser(ctx, u))
		got, err = s.GetUser(ctx, "zoe")
		must(t, err)
		same(t, got, u)
	})
	t.Run("update of a missing user is not found", func(t *testing.T) {
		wantErr(t, s.UpdateUser(ctx, store.User{Name: "ghost", PasswordHash: "x"}), store.ErrNotFound)
		if _, err := s.GetUser(ctx, "ghost"); err == nil {
			t.Fatal("update created a user")
		}
	})
}

// testOneNamespace: client ids and user names are one namespace, compared
// case-insensitively (store.NameTakenError).
func testOneNamespace(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, store.User{Name: "Alice", PasswordHash: "x", CreatedAt: t0}))
	must(t, s.CreateUser(ctx, store.User{Name: "\u017fam", PasswordHash: "x", CreatedAt: t0})) // ſam
	must(t, s.CreateClient(ctx, sampleClient("bob-app")))
	must(t, s.CreateClient(ctx, sampleClient("kate")))

	taken := func(t *testing.T, err error, by, name string) {
		t.Helper()
		wantErr(t, err, store.ErrConflict)
		nt, ok := errors.AsType[*store.NameTakenError](err)
		if !ok || nt.TakenBy != by || nt.TakenName != name {
			t.Fatalf("error = %v, want a NameTakenError by the %s %q", err, by, name)
		}
		if !strings.Contains(err.Error(), "case-insensitively") {
			t.Errorf("error %q does not say the comparison ignores case", err)
		}
	}
	for _, id := range []string{"Alice", "alice", "ALICE", "sam", "SAM"} {
		t.Run("client "+id+" refused", func(t *testing.T) {
			want := map[bool]string{true: "Alice", false: "\u017fam"}[strings.EqualFold(id, "alice")]
			taken(t, s.CreateClient(ctx, sampleClient(id)), "user", want)
			taken(t, s.UpsertClient(ctx, sampleClient(id)), "user", want)
			_, err := s.GetClient(ctx, id)
			wantErr(t, err, store.ErrNotFound)
		})
	}
	for _, name := range []string{"bob-app", "BOB-APP", "Bob-App", "kate", "\u212aate", "\u212aATE"} {
		t.Run("user "+name+" refused", func(t *testing.T) {
			want := map[bool]string{true: "bob-app", false: "kate"}[strings.EqualFold(name, "bob-app")]
			taken(t, s.CreateUser(ctx, store.User{Name: name, PasswordHash: "x", CreatedAt: t0}), "client", want)
			_, err := s.GetUser(ctx, name)
			wantErr(t, err, store.ErrNotFound)
		})
	}
	t.Run("other names are free", func(t *testing.T) {
		must(t, s.CreateClient(ctx, sampleClient("alice-app")))
		must(t, s.CreateClient(ctx, sampleClient("sa m")))
		must(t, s.CreateUser(ctx, store.User{Name: "bob", PasswordHash: "x", CreatedAt: t0}))
		must(t, s.CreateUser(ctx, store.User{Name: "k\u00e4te", PasswordHash: "x", CreatedAt: t0})) // käte
	})
	t.Run("existing names keep working", func(t *testing.T) {
		u, err := s.GetUser(ctx, "Alice")
		must(t, err)
		u.Scopes = []string{"charts"}
		must(t, s.UpdateUser(ctx, u))
		c, err := s.GetClient(ctx, "kate")
		must(t, err)
		must(t, s.UpsertClient(ctx, c))
		must(t, s.UpdateClient(ctx, c))
	})
}

// testOneNamespaceRace creates a client and a user of the same name at the
// same time, many times: exactly one of each pair wins.
func testOneNamespaceRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 16
	var wg sync.WaitGroup
	clientErrs, userErrs := make([]error, n), make([]error, n)
	for i := range n {
		id := fmt.Sprintf("name-%d", i)
		user := id
		if i%2 == 1 {
			user = strings.ToUpper(id)
		}
		wg.Go(func() { clientErrs[i] = s.CreateClient(ctx, sampleClient(id)) })
		wg.Go(func() {
			userErrs[i] = s.CreateUser(ctx, store.User{Name: user, PasswordHash: "x", CreatedAt: t0})
		})
	}
	wg.Wait()
	for i := range n {
		cOK, uOK := clientErrs[i] == nil, userErrs[i] == nil
		if cOK == uOK {
			t.Errorf("name-%d: client error %v, user error %v: want exactly one to succeed", i, clientErrs[i], userErrs[i])
			continue
		}
		for _, err := range []error{clientErrs[i], userErrs[i]} {
			if err != nil {
				if _, ok := errors.AsType[*store.NameTakenError](err); !ok {
					t.Errorf("name-%d: %v, want a NameTakenError", i, err)
				}
			}
		}
	}
}

func testDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, u := range []string{"alice", "bob"} {
		must(t, s.CreateUser(ctx, store.User{Name: u, PasswordHash: "$argon2id$x", CreatedAt: t0}))
	}
	seed(t, s, "alice-app", "own", "rt-own") // sampleClient is owned by alice
	first := sampleClient("first")
	first.Owner = ""
	must(t, s.CreateClient(ctx, first))
	bobApp := sampleClient("bob-app")
	bobApp.Owner = "bob"
	must(t, s.CreateClient(ctx, bobApp))
	seed(t, s, "first", "pw", "rt-pw")
	seed(t, s, "bob-app", "code-flow", "rt-code-flow")
	bobs := newSession("pw-bob", "first", t0.Add(720*time.Hour))
	bobs.Subject = "bob"
	rt := newRefresh("rt-pw-bob", t0.Add(720*time.Hour))
	must(t, s.CreateSession(ctx, bobs, &rt))
	must(t, s.CreateSession(ctx, newSession("pw-old", "first", t0.Add(-time.Hour)), nil))
	for _, c := range []store.AuthCode{
		{Hash: hash("code-alice"), ClientID: "first", Subject: "alice", SessionID: "later-alice", CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)},
		{Hash: hash("code-bob"), ClientID: "first", Subject: "bob", SessionID: "later-bob", CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)},
	} {
		must(t, s.CreateCode(ctx, c))
	}
	for _, u := range []string{"alice", "bob"} {
		_, err := s.AddSubscription(ctx, store.Subscription{User: u, Type: "fmsdata", Name: "n", DateActive: t0, DateExpiry: t0.Add(time.Hour)})
		must(t, err)
	}
	before, err := s.RevocationsSince(ctx, 0)
	must(t, err)

	must(t, s.DeleteUser(ctx, "alice", t0, lifetime))

	_, err = s.GetUser(ctx, "alice")
	wantErr(t, err, store.ErrNotFound)
	if _, err := s.GetUser(ctx, "bob"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	all, err := s.ListClients(ctx, "")
	must(t, err)
	wantIDs(t, "clients", ids(all, func(c store.Client) string { return c.ID }), []string{"bob-app", "first"})
	_, err = s.GetSession(ctx, "own")
	wantErr(t, err, store.ErrNotFound)
	pw, err := s.GetSession(ctx, "pw")
	must(t, err)
	if !pw.RevokedAt.Equal(t0) {
		t.Fatalf("alice's session on another client: revoked_at %s, want %s", pw.RevokedAt, t0)
	}
	_, err = s.RotateRefresh(ctx, "first", hash("rt-pw"), newRefresh("rt-pw-next", t0.Add(time.Hour)), t0)
	wantErr(t, err, store.ErrRevoked)
	// alice's session through bob's client is hers too.
	cf, err := s.GetSession(ctx, "code-flow")
	must(t, err)
	if cf.RevokedAt.IsZero() {
		t.Fatal("alice's session on bob's client was not revoked")
	}
	if sess, err := s.GetSession(ctx, "pw-bob"); err != nil || !sess.Active(t0) {
		t.Fatalf("bob's session: %+v, %v; want it active", sess, err)
	}
	_, err = s.ConsumeCode(ctx, "first", hash("code-alice"), t0)
	wantErr(t, err, store.ErrNotFound)
	if _, err := s.ConsumeCode(ctx, "first", hash("code-bob"), t0); err != nil {
		t.Fatalf("bob's code: %v", err)
	}
	subs, err := s.ListSubscriptions(ctx, "alice")
	must(t, err)
	if len(subs) != 0 {
		t.Fatalf("alice's subscriptions survived: %+v", subs)
	}
	subs, err = s.ListSubscriptions(ctx, "bob")
	must(t, err)
	if len(subs) != 1 {
		t.Fatalf("bob's subscriptions = %+v", subs)
	}

	after, err := s.RevocationsSince(ctx, seqOf(before))
	must(t, err)
	sec := time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC)
	want := []store.Revocation{
		{SessionID: "own", ExpiresAt: t0.Add(720 * time.Hour)},
		{ClientID: "alice-app", Cutoff: t0, ExpiresAt: sec.Add(lifetime)},
		{SessionID: "code-flow", ExpiresAt: t0.Add(720 * time.Hour)}, // same created_at: by id
		{SessionID: "pw", ExpiresAt: t0.Add(720 * time.Hour)},
		{Subject: "alice", Cutoff: t0, ExpiresAt: sec.Add(lifetime)},
	}
	if len(after) != len(want) {
		t.Fatalf("revocations recorded = %+v, want %+v", after, want)
	}
	for i := range after {
		want[i].Seq = after[i].Seq
	}
	same(t, after, want)

	t.Run("unknown user is not found and changes nothing", func(t *testing.T) {
		wantErr(t, s.DeleteUser(ctx, "alice", t0, lifetime), store.ErrNotFound)
		wantErr(t, s.DeleteUser(ctx, "mallory", t0, lifetime), store.ErrNotFound)
		revs, err := s.RevocationsSince(ctx, seqOf(after))
		must(t, err)
		if len(revs) != 0 {
			t.Fatalf("a failed delete recorded %+v", revs)
		}
	})
	t.Run("the name can be taken again", func(t *testing.T) {
		must(t, s.CreateUser(ctx, store.User{Name: "alice", PasswordHash: "$argon2id$y", CreatedAt: t0.Add(time.Minute)}))
	})
}

// testCreatedAfterCutoffs: a client or user deleted and created again
// under the same name, at the same instant on the callers' clocks or on a
// clock behind, gets a creation time after the deletion's cutoff, and each
// cutoff is at or after the creation of what it deleted; so the creation
// claims of tokens tell the incarnations apart exactly. A name's cutoffs
// count whether they were recorded for a client or a user (one namespace).
func testCreatedAfterCutoffs(t *testing.T, s store.Store) {
	ctx := t.Context()
	us := time.Microsecond
	cutoffs := func(since int64) []store.Revocation {
		t.Helper()
		revs, err := s.RevocationsSince(ctx, since)
		must(t, err)
		return revs
	}
	lastSeq := func() int64 { return seqOf(cutoffs(0)) }

	t.Run("a client deleted and created again in a loop", func(t *testing.T) {
		var prevCut time.Time
		for i := range 5 {
			c := sampleClient("again")
			c.CreatedAt = t0 // every call on the same instant
			must(t, s.CreateClient(ctx, c))
			got, err := s.GetClient(ctx, "again")
			must(t, err)
			if i == 0 && !got.CreatedAt.Equal(t0) {
				t.Fatalf("first creation: created_at %s, want %s as asked", got.CreatedAt, t0)
			}
			if i > 0 && !got.CreatedAt.Equal(prevCut.Add(us)) {
				t.Fatalf("creation %d: created_at %s, want %s (just after the cutoff %s)", i, got.CreatedAt, prevCut.Add(us), prevCut)
			}
			seq := lastSeq()
			must(t, s.DeleteClient(ctx, "again", t0, lifetime))
			revs := cutoffs(seq)
			if len(revs) != 1 || revs[0].ClientID != "again" || revs[0].Cutoff.Before(got.CreatedAt) {
				t.Fatalf("deletion %d: revocations %+v, want one cutoff not before %s", i, revs, got.CreatedAt)
			}
			prevCut = revs[0].Cutoff
		}
	})
	t.Run("a declared client made again after a deletion", func(t *testing.T) {
		c := sampleClient("declared-again")
		c.CreatedAt = time.Time{} // the config file gives none
		must(t, s.UpsertClient(ctx, c))
		seq := lastSeq()
		must(t, s.DeleteClient(ctx, "declared-again", t0, lifetime))
		cut := cutoffs(seq)[0].Cutoff
		must(t, s.UpsertClient(ctx, c))
		got, err := s.GetClient(ctx, "declared-again")
		must(t, err)
		if !got.CreatedAt.Equal(cut.Add(us)) {
			t.Fatalf("created_at %s, want %s (just after the cutoff)", got.CreatedAt, cut.Add(us))
		}
		c.Name = "renamed" // an update keeps the creation time
		must(t, s.UpsertClient(ctx, c))
		if got, err := s.GetClient(ctx, "declared-again"); err != nil || !got.CreatedAt.Equal(cut.Add(us)) {
			t.Fatalf("after an update: %+v, %v; want created_at %s", got, err, cut.Add(us))
		}
	})
	t.Run("a user deleted and created again on a clock behind", func(t *testing.T) {
		must(t, s.CreateUser(ctx, store.User{Name: "carol", PasswordHash: "x", CreatedAt: t0}))
		seq := lastSeq()
		must(t, s.DeleteUser(ctx, "carol", t0.Add(time.Second), lifetime))
		cut := cutoffs(seq)
		if len(cut) != 1 || !cut[0].Cutoff.Equal(t0.Add(time.Second)) {
			t.Fatalf("revocations %+v, want a subject cutoff at %s", cut, t0.Add(time.Second))
		}
		must(t, s.CreateUser(ctx, store.User{Name: "carol", PasswordHash: "x", CreatedAt: t0}))
		got, err := s.GetUser(ctx, "carol")
		must(t, err)
		if !got.CreatedAt.Equal(t0.Add(time.Second + us)) {
			t.Fatalf("created_at %s, want %s", got.CreatedAt, t0.Add(time.Second+us))
		}
	})
	t.Run("a client named after a deleted user, and a user after a deleted client", func(t *testing.T) {
		must(t, s.CreateUser(ctx, store.User{Name: "dave", PasswordHash: "x", CreatedAt: t0}))
		must(t, s.DeleteUser(ctx, "dave", t0, lifetime))
		c := sampleClient("dave")
		c.Owner = ""
		must(t, s.CreateClient(ctx, c))
		if got, err := s.GetClient(ctx, "dave"); err != nil || !got.CreatedAt.After(t0) {
			t.Fatalf("client dave: %+v, %v; want created after the user's cutoff %s", got, err, t0)
		}
		must(t, s.CreateClient(ctx, sampleClient("erin")))
		must(t, s.DeleteClient(ctx, "erin", t0, lifetime))
		must(t, s.CreateUser(ctx, store.User{Name: "erin", PasswordHash: "x", CreatedAt: t0}))
		if got, err := s.GetUser(ctx, "erin"); err != nil || !got.CreatedAt.After(t0) {
			t.Fatalf("user erin: %+v, %v; want created after the client's cutoff %s", got, err, t0)
		}
	})
	t.Run("another name's cutoff does not matter", func(t *testing.T) {
		c := sampleClient("fresh")
		must(t, s.CreateClient(ctx, c))
		if got, err := s.GetClient(ctx, "fresh"); err != nil || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Fatalf("client fresh: %+v, %v; want created_at %s", got, err, c.CreatedAt)
		}
	})
}

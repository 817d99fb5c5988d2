package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
)

// A chain of refresh rotations runs its statements prepared from the
// second rotation on (the writer's one connection is the transaction's
// while it runs, so they are prepared after the first commits), with the
// same results; the reads of the token path are prepared at once.
func TestHotStatementsArePreparedOnce(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "clearance.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	if err := s.CreateClient(ctx, store.Client{ID: "app", Name: "App", Grants: []string{"refresh_token"}, Scopes: []string{"user"}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	rt := func(i int) store.RefreshToken {
		return store.RefreshToken{Hash: secret.HashSecret(fmt.Sprint("rt", i)), AccessJTI: fmt.Sprint("jti", i),
			AccessExpiresAt: now.Add(time.Hour), CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	}
	first := rt(0)
	sess := store.Session{ID: "s1", ClientID: "app", Subject: "app", Scope: "user", Kind: store.KindRefresh,
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), Generation: store.FirstGeneration}
	if err := s.CreateSession(ctx, sess, &first); err != nil {
		t.Fatal(err)
	}
	count := func(pool string) int {
		s.stmtMu.Lock()
		defer s.stmtMu.Unlock()
		n := 0
		for k := range s.stmts {
			if (pool == "w") == (k.pool == s.w) {
				n++
			}
		}
		return n
	}
	for i := 1; i <= 3; i++ {
		got, err := s.RotateRefresh(ctx, "app", rt(i-1).Hash, rt(i), now)
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		if got.Generation != store.FirstGeneration+int64(i) {
			t.Fatalf("rotation %d: generation %d", i, got.Generation)
		}
		if i == 1 && count("w") == 0 {
			t.Fatal("no writer statement prepared after the first rotation")
		}
	}
	w := count("w")
	if _, err := s.RotateRefresh(ctx, "app", rt(3).Hash, rt(4), now); err != nil {
		t.Fatal(err)
	}
	if count("w") != w {
		t.Fatalf("writer statements %d, then %d: not reused", w, count("w"))
	}
	if _, err := s.RotateRefresh(ctx, "app", rt(3).Hash, rt(5), now); err == nil {
		t.Fatal("a used refresh token rotated again")
	}
	for range 2 {
		if c, err := s.GetClient(ctx, "app"); err != nil || c.Scopes[0] != "user" {
			t.Fatalf("get client: %+v, %v", c, err)
		}
		if _, err := s.GetClient(ctx, "nobody"); err == nil {
			t.Fatal("an unknown client was found")
		}
	}
	if count("r") == 0 {
		t.Fatal("the client lookup is not prepared")
	}
}

package service_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/testclock"
)

// syncCounter is a revocation set that counts resyncs.
type syncCounter struct{ syncs, adds int }

func (s *syncCounter) Sync(context.Context) error { s.syncs++; return nil }
func (s *syncCounter) Add(store.Revocation)       { s.adds++ }

func newService(t *testing.T) (*service.Service, store.Store, *syncCounter) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte("scopes: [charts]\nplans:\n  - {name: gold, scopes: [charts]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	revs := &syncCounter{}
	clock := testclock.New(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	return service.New(st, service.Options{Config: func() *config.Config { return cfg }, Now: clock.Now, Revocations: revs}), st, revs
}

func TestValidationListsEveryField(t *testing.T) {
	svc, _, _ := newService(t)
	_, err := svc.CreateUser(t.Context(), service.NewUser{Name: "", Password: "short", Scopes: []string{"charts", "nope"}, Plan: "platinum"})
	v, ok := errors.AsType[*service.ValidationError](err)
	if !ok {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	var fields []string
	for _, f := range v.Fields {
		fields = append(fields, f.Field)
	}
	if want := []string{"name", "password", "scopes[1]", "plan"}; !slices.Equal(fields, want) {
		t.Fatalf("fields %v, want %v", fields, want)
	}
}

func TestOneNamespaceAndConflicts(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := t.Context()
	if _, err := svc.CreateUser(ctx, service.NewUser{Name: "alice", Password: "alice password"}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.CreateUser(ctx, service.NewUser{Name: "alice", Password: "alice password"})
	if _, ok := errors.AsType[*service.ConflictError](err); !ok || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second alice: %v, want a ConflictError", err)
	}
	_, _, err = svc.CreateClient(ctx, service.NewClient{ID: "alice", Name: "A"})
	if _, ok := errors.AsType[*store.NameTakenError](err); !ok {
		t.Fatalf("client alice: %v, want *store.NameTakenError", err)
	}
}

func TestSecretsAndKeysStoredAsHashes(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := t.Context()
	cl, sec, err := svc.CreateClient(ctx, service.NewClient{ID: "app", Name: "App", Scopes: []string{"charts"}})
	if err != nil || sec == "" || !secret.EqualHash(cl.SecretHash, secret.HashSecret(sec)) {
		t.Fatalf("CreateClient: %v, secret %q", err, sec)
	}
	key, err := svc.CreateAPIKey(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := st.ListAdminKeys(ctx)
	if len(keys) != 1 || string(keys[0].Hash) == key || !secret.EqualHash(keys[0].Hash, secret.HashSecret(key)) {
		t.Fatalf("stored keys %+v: want the hash of the key only", keys)
	}
	if name, err := svc.AuthenticateAPIKey(ctx, key); err != nil || name != "billing" {
		t.Fatalf("AuthenticateAPIKey = %q, %v", name, err)
	}
	for _, wrong := range []string{"", key + "x", key[:len(key)-1]} {
		if _, err := svc.AuthenticateAPIKey(ctx, wrong); !errors.Is(err, service.ErrBadAPIKey) {
			t.Errorf("AuthenticateAPIKey(%q) = %v, want ErrBadAPIKey", wrong, err)
		}
	}
	if err := svc.RevokeAPIKey(ctx, "billing"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AuthenticateAPIKey(ctx, key); !errors.Is(err, service.ErrBadAPIKey) {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := svc.CreateAPIKey(ctx, "Bad Name"); !service.IsValidation(err) {
		t.Fatalf("bad key name: %v", err)
	}
}

func TestDeletionsReachTheRevocationSetAtOnce(t *testing.T) {
	svc, _, revs := newService(t)
	ctx := t.Context()
	svc.CreateUser(ctx, service.NewUser{Name: "bob", Password: "bob password"})
	svc.CreateClient(ctx, service.NewClient{ID: "bob-app", Name: "B", Owner: "bob"})
	if err := svc.DeleteClient(ctx, "bob-app"); err != nil || revs.syncs != 1 {
		t.Fatalf("DeleteClient: %v, syncs %d", err, revs.syncs)
	}
	if err := svc.DeleteUser(ctx, "bob"); err != nil || revs.syncs != 2 {
		t.Fatalf("DeleteUser: %v, syncs %d", err, revs.syncs)
	}
	if err := svc.DeleteUser(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteUser: %v, want ErrNotFound", err)
	}
}

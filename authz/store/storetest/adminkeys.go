package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
)

// testAdminKeys: admin API keys are kept by hash under a unique name,
// listed by name, and deleted one by one.
func testAdminKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	created := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	if keys, err := s.ListAdminKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("ListAdminKeys on an empty store = %v, %v; want none", keys, err)
	}
	for _, name := range []string{"billing", "signup"} {
		if err := s.CreateAdminKey(ctx, store.AdminKey{Name: name, Hash: secret.HashSecret("key-" + name), CreatedAt: created}); err != nil {
			t.Fatalf("CreateAdminKey(%q): %v", name, err)
		}
	}
	if err := s.CreateAdminKey(ctx, store.AdminKey{Name: "billing", Hash: secret.HashSecret("other"), CreatedAt: created}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateAdminKey of a taken name = %v, want ErrConflict", err)
	}
	keys, err := s.ListAdminKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Name != "billing" || keys[1].Name != "signup" {
		t.Fatalf("ListAdminKeys = %+v, want billing then signup", keys)
	}
	if !bytes.Equal(keys[0].Hash, secret.HashSecret("key-billing")) || !keys[0].CreatedAt.Equal(created) {
		t.Fatalf("billing = %+v: hash or creation time changed in the store", keys[0])
	}
	if err := s.DeleteAdminKey(ctx, "billing"); err != nil {
		t.Fatalf("DeleteAdminKey: %v", err)
	}
	if err := s.DeleteAdminKey(ctx, "billing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteAdminKey twice = %v, want ErrNotFound", err)
	}
	keys, err = s.ListAdminKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Name != "signup" {
		t.Fatalf("after delete ListAdminKeys = %+v, %v; want signup only", keys, err)
	}
}

package entitlement

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// users is a fixed set of users; "broken" fails as a store would.
type users map[string]store.User

func (us users) GetUser(_ context.Context, name string) (store.User, error) {
	if name == "broken" {
		return store.User{}, errors.New("database is locked")
	}
	u, ok := us[name]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func testConfig() *config.Config {
	return &config.Config{
		Scopes: []string{"charts", "airports", "manage_users", "fmsdata"},
		Portal: config.Portal{Scopes: []string{"airports", "charts"}},
	}
}

func TestOf(t *testing.T) {
	cfg := testConfig()
	for _, tt := range []struct {
		name string
		own  []string
		want []string
	}{
		{"portal scopes only, in the config's order", nil, []string{"charts", "airports"}},
		{"own scopes add to them", []string{"fmsdata"}, []string{"charts", "airports", "fmsdata"}},
		{"an own scope no longer declared is dropped", []string{"retired", "manage_users"}, []string{"charts", "airports", "manage_users"}},
		{"overlap is listed once", []string{"charts"}, []string{"charts", "airports"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(cfg, store.User{Name: "u", Scopes: tt.own}); !slices.Equal(got, tt.want) {
				t.Fatalf("Of = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("no portal scopes and none of one's own is nothing", func(t *testing.T) {
		if got := Of(&config.Config{Scopes: []string{"charts"}}, store.User{}); got == nil || len(got) != 0 {
			t.Fatalf("Of = %#v, want an empty list", got)
		}
	})
}

func TestClientScopes(t *testing.T) {
	cfg := testConfig()
	us := users{
		"alice": {Name: "alice", Scopes: []string{"fmsdata"}},
		"bob":   {Name: "bob"},
	}
	all := []string{"manage_users", "fmsdata", "charts", "airports"}
	for _, tt := range []struct {
		name        string
		client      store.Client
		want        []string
		wantLimited bool
	}{
		{"operator's client keeps every scope", store.Client{Scopes: all}, all, false},
		{"operator's client with an owner keeps every scope", store.Client{Owner: "bob", Scopes: all}, all, false},
		{"portal client of alice", store.Client{Owner: "alice", PortalMade: true, Scopes: all},
			[]string{"fmsdata", "charts", "airports"}, true},
		{"portal client of bob", store.Client{Owner: "bob", PortalMade: true, Scopes: all},
			[]string{"charts", "airports"}, true},
		{"portal client of a deleted user", store.Client{Owner: "gone", PortalMade: true, Scopes: all},
			[]string{"charts", "airports"}, true},
		{"portal client with nothing entitled", store.Client{Owner: "bob", PortalMade: true, Scopes: []string{"manage_users"}},
			[]string{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, limited, err := ClientScopes(t.Context(), cfg, us, tt.client)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || limited != tt.wantLimited {
				t.Fatalf("ClientScopes = %q, %v; want %q, %v", got, limited, tt.want, tt.wantLimited)
			}
		})
	}
	t.Run("a store failure is an error, not an entitlement", func(t *testing.T) {
		got, _, err := ClientScopes(t.Context(), cfg, us, store.Client{Owner: "broken", PortalMade: true, Scopes: all})
		if err == nil || got != nil {
			t.Fatalf("ClientScopes = %q, %v; want an error", got, err)
		}
	})
}

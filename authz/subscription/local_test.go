package subscription

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz"
	"github.com/clearance-gw/clearance/authz/store"
)

var _ authz.Subscriptions = (*Local)(nil)

// failingStore fails every read.
type failingStore struct{}

func (failingStore) ListSubscriptions(context.Context, string) ([]store.Subscription, error) {
	return nil, errors.New("database is locked")
}

func (failingStore) GetClient(context.Context, string) (store.Client, error) {
	return store.Client{}, errors.New("database is locked")
}

func TestLocalUser(t *testing.T) {
	l := NewLocal(openStore(t), newClock().Now)
	tests := []struct {
		name string
		p    authz.Principal
		want string
	}{
		{"a user's token stands for its subject", authz.Principal{Subject: "alice", ClientID: "navtool"}, "alice"},
		{"a client's own token stands for the client's owner", authz.Principal{Subject: "navtool", ClientID: "navtool"}, "alice"},
		{"a client without owner stands for itself", authz.Principal{Subject: "orphan", ClientID: "orphan"}, "orphan"},
		{"a client the store does not know stands for itself", authz.Principal{Subject: "idp-app", ClientID: "idp-app"}, "idp-app"},
		{"a token without client_id stands for its subject", authz.Principal{Subject: "carol"}, "carol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.User(t.Context(), tt.p)
			if err != nil || got != tt.want {
				t.Fatalf("User = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("a store failure is an error, not another user", func(t *testing.T) {
		_, err := NewLocal(failingStore{}, nil).User(t.Context(), authz.Principal{Subject: "navtool", ClientID: "navtool"})
		if err == nil {
			t.Fatal("no error")
		}
	})
}

func TestLocalValidAndActive(t *testing.T) {
	c := newClock()
	l := NewLocal(openStore(t), c.Now)
	alice := authz.Principal{Subject: "alice", ClientID: "navtool"}
	navtool := authz.Principal{Subject: "navtool", ClientID: "navtool"}
	bob := authz.Principal{Subject: "bob", ClientID: "x"}
	tests := []struct {
		name   string
		at     time.Time
		p      authz.Principal
		kind   string
		valid  string // types of Valid, in order
		active bool
	}{
		{"active fmsdata, expired charts left out", t0, alice, "fmsdata", "[fmsdata]", true},
		{"the expired type is not active", t0, alice, "charts", "[fmsdata]", false},
		{"through the owner's client", t0, navtool, "fmsdata", "[fmsdata]", true},
		{"charts on its last second", day(2030, 1, 1).Add(-time.Second), alice, "charts", "[charts]", true},
		{"fmsdata a second before its first", day(2030, 1, 1).Add(-time.Second), alice, "fmsdata", "[charts]", false},
		{"fmsdata on its first second", day(2030, 1, 1), alice, "fmsdata", "[fmsdata]", true},
		{"fmsdata on its last second", day(2031, 1, 1).Add(-time.Second), alice, "fmsdata", "[fmsdata]", true},
		{"after everything expired", day(2031, 1, 1), alice, "fmsdata", "[]", false},
		{"not yet started", t0, bob, "fmsdata", "[]", false},
		{"started", t0.Add(24 * time.Hour), bob, "fmsdata", "[fmsdata]", true},
		{"a user without subscriptions", t0, authz.Principal{Subject: "carol"}, "fmsdata", "[]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Set(tt.at)
			subs, err := l.Valid(t.Context(), tt.p, "")
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, s := range subs {
				types = append(types, s.Type)
			}
			if got := fmt.Sprint(types); got != tt.valid {
				t.Errorf("Valid types = %s, want %s", got, tt.valid)
			}
			ok, err := l.Active(t.Context(), tt.p, "", tt.kind)
			if err != nil || ok != tt.active {
				t.Errorf("Active(%s) = %v, %v; want %v", tt.kind, ok, err, tt.active)
			}
		})
	}
	t.Run("a store failure is an error", func(t *testing.T) {
		if ok, err := NewLocal(failingStore{}, nil).Active(t.Context(), alice, "", "fmsdata"); err == nil || ok {
			t.Fatalf("Active = %v, %v", ok, err)
		}
	})
}

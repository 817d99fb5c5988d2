package subscription

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/store"
)

var _ guard.Subscriptions = (*Local)(nil)

// failingStore fails every read.
type failingStore struct{}

func (failingStore) ListSubscriptions(context.Context, string) ([]store.Subscription, error) {
	return nil, errors.New("database is locked")
}

func (failingStore) GetClient(context.Context, string) (store.Client, error) {
	return store.Client{}, errors.New("database is locked")
}

// local is a principal of a token the gateway minted.
func local(sub, client string) guard.Principal {
	return guard.Principal{Issuer: issuer, Subject: sub, ClientID: client, Local: true}
}

// foreign is a principal of a trusted issuer's token.
func foreign(sub, client string) guard.Principal {
	return guard.Principal{Issuer: "https://idp.example", Subject: sub, ClientID: client}
}

func TestLocalUser(t *testing.T) {
	l := NewLocal(openStore(t), newClock().Now)
	tests := []struct {
		name string
		p    guard.Principal
		want string
	}{
		{"a user's token stands for its subject", local("alice", "navtool"), "alice"},
		{"a client's own token stands for the client's owner", local("navtool", "navtool"), "alice"},
		{"a client without owner stands for itself", local("orphan", "orphan"), "orphan"},
		{"a client the store does not know stands for itself", local("idp-app", "idp-app"), "idp-app"},
		{"a token without client_id stands for its subject", local("carol", ""), "carol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := l.User(t.Context(), tt.p)
			if err != nil || !ok || got != tt.want {
				t.Fatalf("User = %q, %v, %v; want %q", got, ok, err, tt.want)
			}
		})
	}
	// A trusted issuer's users are another tenant: its alice, or a token
	// its client navtool got for itself, is no local user.
	for _, p := range []guard.Principal{foreign("alice", "navtool"), foreign("navtool", "navtool")} {
		t.Run("a token of another issuer is no local user: "+p.Subject, func(t *testing.T) {
			if got, ok, err := l.User(t.Context(), p); err != nil || ok || got != "" {
				t.Fatalf("User = %q, %v, %v; want none", got, ok, err)
			}
		})
	}
	t.Run("a store failure is an error, not another user", func(t *testing.T) {
		_, _, err := NewLocal(failingStore{}, nil).User(t.Context(), local("navtool", "navtool"))
		if err == nil {
			t.Fatal("no error")
		}
	})
}

func TestLocalValidAndActive(t *testing.T) {
	c := newClock()
	l := NewLocal(openStore(t), c.Now)
	alice := local("alice", "navtool")
	navtool := local("navtool", "navtool")
	bob := local("bob", "x")
	tests := []struct {
		name   string
		at     time.Time
		p      guard.Principal
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
		{"a user without subscriptions", t0, local("carol", ""), "fmsdata", "[]", false},
		{"another issuer's alice has none of alice's", t0, foreign("alice", "navtool"), "fmsdata", "[]", false},
		{"another issuer's navtool client has none of its owner's", t0, foreign("navtool", "navtool"), "fmsdata", "[]", false},
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

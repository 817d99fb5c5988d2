package subscription

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/store"
)

// Store is the part of the store Local reads.
type Store interface {
	ListSubscriptions(ctx context.Context, user string) ([]store.Subscription, error)
	GetClient(ctx context.Context, id string) (store.Client, error)
}

// Local answers from the gateway's store, for the tokens the gateway
// minted (the store's users are the gateway's own). It does not cache: one
// indexed read per check, so "clearance subscription add/remove" takes
// effect at once.
type Local struct {
	st  Store
	now func() time.Time
}

// NewLocal returns a source over st; now is the clock (time.Now if nil).
func NewLocal(st Store, now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{st: st, now: now}
}

// User is the local user whose subscriptions a token stands for: its
// subject, or for a token a client obtained for itself (client_credentials,
// where the subject is the client id) the client's owner, when it has one.
// ok is false for a token the gateway did not mint: a trusted issuer's
// users are another tenant (SPEC §10), and its "alice" is not the store's.
func (l *Local) User(ctx context.Context, p guard.Principal) (user string, ok bool, err error) {
	if !p.Local {
		return "", false, nil
	}
	if p.ClientID == "" || p.Subject != p.ClientID {
		return p.Subject, true, nil
	}
	c, err := l.st.GetClient(ctx, p.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p.Subject, true, nil
	case err != nil:
		return "", false, fmt.Errorf("look up client %q: %w", p.ClientID, err)
	case c.Owner != "":
		return c.Owner, true, nil
	}
	return p.Subject, true, nil
}

// Valid returns the subscriptions of p's user that are active now, in the
// order they were added; none for a token of another issuer. The token is
// not used.
func (l *Local) Valid(ctx context.Context, p guard.Principal, _ string) ([]Subscription, error) {
	user, ok, err := l.User(ctx, p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return []Subscription{}, nil
	}
	subs, err := l.st.ListSubscriptions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	now := l.now()
	out := make([]Subscription, 0, len(subs))
	for _, s := range subs {
		if s.Active(now) {
			out = append(out, Subscription{Type: s.Type, Name: s.Name, DateActive: s.DateActive, DateExpiry: s.DateExpiry})
		}
	}
	return out, nil
}

// Active reports whether p's user has an active subscription of kind.
func (l *Local) Active(ctx context.Context, p guard.Principal, token, kind string) (bool, error) {
	subs, err := l.Valid(ctx, p, token)
	if err != nil {
		return false, err
	}
	return hasKind(subs, kind, l.now()), nil
}

func hasKind(subs []Subscription, kind string, now time.Time) bool {
	for _, s := range subs {
		if s.Type == kind && s.ActiveAt(now) {
			return true
		}
	}
	return false
}

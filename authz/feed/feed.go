// Package feed keeps the in-memory views of clients (their CORS origins,
// their plans) current by following the store's change feed
// (store.Changes): a full load at start, then, at every Sync, only the
// clients and users changed since the last one are read again and applied
// to the views. Keeping the views current costs per change, not per
// client: an idle instance asks the store one indexed question per poll.
//
// When the follower has fallen behind the store's retention
// (store.ErrChangesPruned) it loads the views whole again.
package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/metering/planview"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/internal/periodic"
)

// Source is the part of the store the follower reads.
type Source interface {
	ChangesSince(ctx context.Context, seq int64) ([]store.Change, error)
	LatestChange(ctx context.Context) (int64, error)
	GetClient(ctx context.Context, id string) (store.Client, error)
	GetUser(ctx context.Context, name string) (store.User, error)
	ListClients(ctx context.Context, owner string) ([]store.Client, error)
}

// Origins is the view of clients' CORS origins (authz.ClientOrigins).
type Origins interface {
	Refresh(ctx context.Context) error
	SetClient(c guard.OriginClient)
	RemoveClient(id string)
}

// Plans is the view of clients' plans (metering.ClientPlans).
type Plans interface {
	Refresh(ctx context.Context) error
	SetPlans(plans map[string]string)
}

// DefaultInterval is the polling interval Run uses when given 0.
const DefaultInterval = 500 * time.Millisecond

// Follower applies the store's changes to the views.
type Follower struct {
	src     Source
	origins Origins // nil: none
	plans   Plans   // nil: none
	log     *slog.Logger

	mu  sync.Mutex // serialises Load and Sync
	seq int64      // the last change applied
}

// New returns a follower of src for the views given (either may be nil).
// Call Load before serving.
func New(src Source, origins Origins, plans Plans, logger *slog.Logger) *Follower {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Follower{src: src, origins: origins, plans: plans, log: logger}
}

// Load loads every view whole, then follows from the change that was the
// latest before the load (changes that land during it are applied again by
// the next Sync: applying a change twice is harmless).
func (f *Follower) Load(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loadLocked(ctx)
}

func (f *Follower) loadLocked(ctx context.Context) error {
	seq, err := f.src.LatestChange(ctx)
	if err != nil {
		return err
	}
	if f.origins != nil {
		if err := f.origins.Refresh(ctx); err != nil {
			return fmt.Errorf("load client origins: %w", err)
		}
	}
	if f.plans != nil {
		if err := f.plans.Refresh(ctx); err != nil {
			return fmt.Errorf("load client plans: %w", err)
		}
	}
	f.seq = seq
	return nil
}

// Seq returns the last change applied.
func (f *Follower) Seq() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seq
}

// Sync applies the changes recorded since the last Sync (or Load). On
// error nothing is skipped: the next Sync starts from the same change.
func (f *Follower) Sync(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	changes, err := f.src.ChangesSince(ctx, f.seq)
	if errors.Is(err, store.ErrChangesPruned) {
		f.log.WarnContext(ctx, "fell behind the change feed: loading the views whole", "seq", f.seq)
		return f.loadLocked(ctx)
	}
	if err != nil || len(changes) == 0 {
		return err
	}
	clients, users := map[string]bool{}, map[string]bool{}
	for _, c := range changes {
		switch c.Kind {
		case store.ChangeClient:
			clients[c.Key] = true
		case store.ChangeUser:
			users[c.Key] = true
		}
	}
	if err := f.apply(ctx, clients, users); err != nil {
		return err
	}
	f.seq = changes[len(changes)-1].Seq
	return nil
}

// apply reads the changed clients and users again and puts them in force:
// a client's origins and plan, and a user's plan on each client they own
// (a client without a plan of its own takes its owner's).
func (f *Follower) apply(ctx context.Context, clients, users map[string]bool) error {
	owners := map[string]store.User{} // read once per Sync
	owner := func(name string) (store.User, error) {
		if name == "" {
			return store.User{}, nil
		}
		if u, ok := owners[name]; ok {
			return u, nil
		}
		u, err := f.src.GetUser(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			u, err = store.User{}, nil
		}
		if err == nil {
			owners[name] = u
		}
		return u, err
	}
	type clientState struct {
		c    store.Client
		gone bool
	}
	var found []clientState
	for id := range clients {
		c, err := f.src.GetClient(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			found = append(found, clientState{c: store.Client{ID: id}, gone: true})
		case err != nil:
			return fmt.Errorf("read changed client %q: %w", id, err)
		default:
			found = append(found, clientState{c: c})
		}
	}
	for name := range users {
		owned, err := f.src.ListClients(ctx, name)
		if err != nil {
			return fmt.Errorf("read the clients of changed user %q: %w", name, err)
		}
		for _, c := range owned {
			if !clients[c.ID] {
				found = append(found, clientState{c: c})
			}
		}
	}
	plans := make(map[string]string, len(found))
	for _, s := range found {
		if s.gone {
			plans[s.c.ID] = ""
			continue
		}
		u, err := owner(s.c.Owner)
		if err != nil {
			return fmt.Errorf("read the owner of client %q: %w", s.c.ID, err)
		}
		plans[s.c.ID] = planview.ExplicitPlan(s.c, u)
	}
	// Every read is done: now the views change, all of them or none.
	for _, s := range found {
		if f.origins == nil {
			break
		}
		if s.gone {
			f.origins.RemoveClient(s.c.ID)
		} else {
			f.origins.SetClient(guard.OriginClient{ID: s.c.ID, Scopes: s.c.Scopes, AllowedOrigins: s.c.AllowedOrigins})
		}
	}
	if f.plans != nil {
		f.plans.SetPlans(plans)
	}
	return nil
}

// Run calls Sync every interval (DefaultInterval when 0), and at once
// whenever wake receives (a change notification), until ctx ends.
// Failures are logged once per run of failures and retried.
func (f *Follower) Run(ctx context.Context, interval time.Duration, wake <-chan struct{}) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	periodic.Follow(ctx, interval, wake, f.Sync,
		func(err error) { f.log.ErrorContext(ctx, "follow the change feed", "error", err) },
		func() { f.log.InfoContext(ctx, "following the change feed again") })
}

package planview

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/internal/periodic"
)

// ExplicitPlan is the plan name a client carries: its own, else its
// owner's (owner is the zero User when it has none); "" means the
// config's default_plan.
func ExplicitPlan(c store.Client, owner store.User) string {
	if c.Plan != "" {
		return c.Plan
	}
	return owner.Plan
}

// Lister is the part of the store ClientPlans reads.
type Lister interface {
	ListClients(ctx context.Context, owner string) ([]store.Client, error)
	ListUsers(ctx context.Context) ([]store.User, error)
}

// ClientPlans keeps every local client's plan name (ExplicitPlan) in
// memory, so that metering a request costs a map lookup and no store I/O.
// Refresh loads it whole (at start); SetPlans applies the plans of the
// clients a change touched (the change feed, authz/feed, calls it), so
// keeping it current costs per change, not per client.
type ClientPlans struct {
	src      Lister
	interval time.Duration
	log      *slog.Logger
	mu       sync.RWMutex
	plans    map[string]string // client id -> plan name
}

// NewClientPlans returns an empty view; call Refresh before use and Run to
// keep it current. interval defaults to one second.
func NewClientPlans(src Lister, interval time.Duration, logger *slog.Logger) *ClientPlans {
	if interval <= 0 {
		interval = time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ClientPlans{src: src, interval: interval, log: logger, plans: map[string]string{}}
}

// Refresh reloads every client's plan from the store.
func (v *ClientPlans) Refresh(ctx context.Context) error {
	users, err := v.src.ListUsers(ctx)
	if err != nil {
		return err
	}
	clients, err := v.src.ListClients(ctx, "")
	if err != nil {
		return err
	}
	owners := make(map[string]store.User, len(users))
	for _, u := range users {
		if u.Plan != "" {
			owners[u.Name] = u
		}
	}
	m := make(map[string]string)
	for _, c := range clients {
		var owner store.User
		if c.Owner != "" {
			owner = owners[c.Owner]
		}
		if p := ExplicitPlan(c, owner); p != "" {
			m[c.ID] = p
		}
	}
	v.mu.Lock()
	v.plans = m
	v.mu.Unlock()
	return nil
}

// SetPlans sets the plan of each client named (ExplicitPlan; "" for none,
// or a deleted client).
func (v *ClientPlans) SetPlans(plans map[string]string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, p := range plans {
		if p == "" {
			delete(v.plans, id)
		} else {
			v.plans[id] = p
		}
	}
}

// Run refreshes the view every interval until ctx ends.
func (v *ClientPlans) Run(ctx context.Context) {
	periodic.Every(ctx, v.interval, v.Refresh, func(err error) {
		v.log.WarnContext(ctx, "refresh client plans", "error", err)
	})
}

// PlanOf implements PlanView.
func (v *ClientPlans) PlanOf(clientID string) string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.plans[clientID]
}

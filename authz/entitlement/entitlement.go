// Package entitlement is the one rule for which scopes a portal client may
// be given (SPEC §10): a client its owner made in the developer portal may
// hold, and be issued, only scopes its owner is entitled to, that is the
// config's portal.scopes plus the owner's own scopes plus the scopes of
// the owner's plan (SPEC §11: the user's plan, else default_plan). Clients
// made by the operator are not limited.
//
// The token endpoint, the authorization page, the portal's forms and
// token button and the command line's a2a tokens all ask this package, and
// read the owner at each issuance, so an entitlement that shrank applies to
// the next token.
package entitlement

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// Users is the part of the store the rule reads.
type Users interface {
	GetUser(ctx context.Context, name string) (store.User, error)
}

// Of returns the scopes u's portal clients may be given: portal.scopes,
// u's own scopes and the scopes of u's plan (u.Plan while the config has
// it, else default_plan), in the order of the config's scopes. A scope no
// longer declared under scopes: is not an entitlement.
func Of(cfg *config.Config, u store.User) []string {
	var planScopes []string
	if p := cfg.EffectivePlan(u.Plan); p != nil {
		planScopes = p.Scopes
	}
	out := []string{}
	for _, sc := range cfg.Scopes {
		if slices.Contains(cfg.Portal.Scopes, sc) || slices.Contains(u.Scopes, sc) || slices.Contains(planScopes, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// Limited reports whether c's scopes are limited to its owner's
// entitlement: a client its owner made in the portal.
func Limited(c store.Client) bool { return c.PortalMade }

// ClientScopes returns the scopes c may be issued now, in c's order: all
// of c.Scopes for an operator's client; for a portal client (limited is
// true) those its owner is entitled to now. An owner who no longer exists
// is entitled to portal.scopes only.
func ClientScopes(ctx context.Context, cfg *config.Config, users Users, c store.Client) (scopes []string, limited bool, err error) {
	if !Limited(c) {
		return c.Scopes, false, nil
	}
	u, err := users.GetUser(ctx, c.Owner)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, true, fmt.Errorf("entitlement of %q: %w", c.Owner, err)
	}
	if err != nil {
		u = store.User{}
	}
	entitled := Of(cfg, u)
	out := []string{}
	for _, sc := range c.Scopes {
		if slices.Contains(entitled, sc) && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, true, nil
}

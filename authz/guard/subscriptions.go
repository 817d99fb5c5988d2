package guard

import (
	"context"
	"net/http"

	"github.com/clearance-gw/clearance/config"
)

// Subscriptions answers whether a token's user has an active subscription
// of one type (SPEC §6 step 6). token is the raw bearer token, for a source
// that asks a remote service on the user's behalf. The guard asks on every
// request to a route that names a subscription and never caches the
// answer; a source may (authz/subscription does, per user).
type Subscriptions interface {
	Active(ctx context.Context, p Principal, token, kind string) (bool, error)
}

// ErrSubscriptionRequired is the 403 of a route whose subscription the
// token's user does not have (or no longer has).
var ErrSubscriptionRequired = &Error{Code: "subscription_required", Status: http.StatusForbidden, Reason: "subscription"}

// checkSubscription is the subscription policy: a route naming a
// subscription type needs an active one of that type. A failing source is
// a 503 (the next request asks again), never a 403.
func (g *Guard) checkSubscription(r *http.Request, route *config.Route, p Principal, tok string) error {
	if route == nil || route.Subscription == "" {
		return nil
	}
	if g.subs == nil {
		g.log.ErrorContext(r.Context(), "route requires a subscription but no subscription source is configured", "route", route.Name)
		return ErrUnavailable.WithDescription("subscription_unavailable", "subscriptions cannot be checked")
	}
	ok, err := g.subs.Active(r.Context(), p, tok, route.Subscription)
	if err != nil {
		g.log.WarnContext(r.Context(), "subscription lookup failed", "route", route.Name, "sub", p.Subject, "error", err)
		return ErrUnavailable.WithDescription("subscription_unavailable", "subscriptions cannot be checked right now; retry later")
	}
	if !ok {
		return ErrSubscriptionRequired.WithDescription("subscription",
			"an active "+route.Subscription+" subscription is required")
	}
	return nil
}

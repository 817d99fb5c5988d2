package cli

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/subscription"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/proxy"
)

// subscriptionSource is what the guard asks on routes naming a
// subscription, and what the /v1/subscriptions/valid endpoint lists.
type subscriptionSource interface {
	Active(ctx context.Context, p guard.Principal, token, kind string) (bool, error)
	Valid(ctx context.Context, p guard.Principal, token string) ([]subscription.Subscription, error)
}

var (
	_ subscriptionSource = (*subscription.Local)(nil)
	_ subscriptionSource = (*subscription.Remote)(nil)
)

// newSubscriptionSource is the store, or the remote service that
// subscriptions.url names (cached per user). It is built once per start:
// a reload does not change it.
func newSubscriptionSource(cfg *config.Config, st store.Store, env Env, reg prometheus.Registerer, am *guard.Metrics) (subscriptionSource, error) {
	sc := cfg.Subscriptions
	if sc.URL == "" {
		return subscription.NewLocal(st, env.Now), nil
	}
	return subscription.NewRemote(subscription.RemoteOptions{
		URL: sc.URL, TTL: sc.TTL.D(), CacheSize: sc.CacheSize, Timeout: sc.Timeout.D(),
		Now: env.Now, Metrics: subscription.NewMetrics(reg, am),
	})
}

// subscriptionEndpoints serves GET /v1/subscriptions/valid from the store
// when subscriptions are in use: the navigraph profile, or a route that
// requires one (so the path stays free for upstreams otherwise). With a
// remote source the gateway serves none: the remote service (behind a
// route, if it is proxied) answers for itself.
func subscriptionEndpoints(cfg *config.Config, guard *guard.Guard, src subscriptionSource, logger *slog.Logger) []proxy.Endpoint {
	local, ok := src.(*subscription.Local)
	if !ok {
		return nil
	}
	used := cfg.Profile == config.ProfileNavigraph
	for _, r := range cfg.Routes {
		used = used || r.Subscription != ""
	}
	if !used {
		return nil
	}
	return []proxy.Endpoint{{
		Name:    "subscriptions",
		Pattern: subscription.ValidPath,
		Handler: subscription.NewHandler(guard, local, subscription.HandlerOptions{Realm: cfg.Realm, Logger: logger}),
	}}
}

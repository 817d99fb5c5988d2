package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/postgres"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
	"github.com/clearance-gw/clearance/config"
)

// openStore opens the store the config names. Store implementations are
// chosen here and nowhere else.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	return openStoreLogged(ctx, cfg, nil)
}

// openStoreLogged is openStore with a logger for the store's background
// notes (the PostgreSQL change listener).
func openStoreLogged(ctx context.Context, cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	switch cfg.Store.Driver {
	case "sqlite":
		st, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		return st, nil
	case "postgres":
		st, err := postgres.Open(ctx, cfg.Store.DSN.Reveal(), postgres.Options{Timeout: storeTimeout, Logger: logger})
		if err != nil {
			return nil, err
		}
		return st, nil
	default:
		return nil, fmt.Errorf("store driver %q is not available in this build", cfg.Store.Driver)
	}
}

// storeTimeout bounds every call to a shared store: a database that has
// gone away costs a request this long at most.
const storeTimeout = 3 * time.Second

// changeWatcher is a store that announces changes made by any instance
// (PostgreSQL's LISTEN/NOTIFY): in-memory views resync at once instead of
// at their next poll.
type changeWatcher interface {
	Watch(ctx context.Context, retry time.Duration, wake func())
}

// clusterLocker is a store shared by several instances that can run a step
// in one instance at a time.
type clusterLocker interface {
	WithLock(ctx context.Context, name string, fn func(context.Context) error) error
}

// clientCacher is a store that can answer GetClient from memory
// (sqlite.Store.CacheClients), reading a client again after any commit,
// by this process or another; an entry lives ttl at most.
type clientCacher interface {
	CacheClients(now func() time.Time, ttl time.Duration)
}

var (
	_ changeWatcher = (*postgres.Store)(nil)
	_ clusterLocker = (*postgres.Store)(nil)
	_ clientCacher  = (*sqlite.Store)(nil)
)

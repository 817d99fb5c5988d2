package cli

import (
	"context"
	"fmt"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
	"github.com/clearance-gw/clearance/config"
)

// openStore opens the store the config names. Store implementations are
// chosen here and nowhere else.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store.Driver {
	case "sqlite":
		st, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("store driver %q is not available in this build", cfg.Store.Driver)
	}
}

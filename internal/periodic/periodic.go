// Package periodic runs background upkeep (key reloads, origin refreshes,
// pruning) on a fixed interval until its context ends.
package periodic

import (
	"context"
	"time"
)

// Every calls fn every interval until ctx is done, first after one
// interval. An error of fn goes to onErr unless ctx has ended (a shutdown
// is not a failure); the loop goes on either way.
func Every(ctx context.Context, interval time.Duration, fn func(context.Context) error, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

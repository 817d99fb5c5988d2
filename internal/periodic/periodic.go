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

// Follow calls fn every interval, and at once whenever wake receives (a
// nil wake never does), until ctx is done. It reports a run of failures
// once: onFail with the first error, then onRecover when fn succeeds
// again, so a store that is down for an hour logs two lines, not one per
// tick. A failure caused by ctx ending is not reported.
func Follow(ctx context.Context, interval time.Duration, wake <-chan struct{}, fn func(context.Context) error,
	onFail func(error), onRecover func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		err := fn(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			onFail(err)
		case err == nil && failing:
			failing = false
			onRecover()
		}
	}
}

package periodic

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var calls, errs atomic.Int32
	done := make(chan struct{})
	go func() {
		Every(ctx, time.Millisecond, func(context.Context) error {
			if calls.Add(1)%2 == 0 {
				return errors.New("odd failure")
			}
			return nil
		}, func(error) { errs.Add(1) })
		close(done)
	}()
	for calls.Load() < 6 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after cancel")
	}
	if n, e := calls.Load(), errs.Load(); e < n/2-1 || e > n/2 {
		t.Errorf("%d calls, %d errors reported; want every failing call reported", n, e)
	}
}

// A failure caused by the shutdown itself is not reported.
func TestEveryQuietOnShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	reported := make(chan error, 1)
	Every(ctx, time.Millisecond, func(ctx context.Context) error {
		cancel()
		return ctx.Err()
	}, func(err error) { reported <- err })
	select {
	case err := <-reported:
		t.Errorf("reported %v during shutdown", err)
	default:
	}
}

package periodic

import (
	"context"
	"errors"
	"slices"
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

// Follow runs on every wake, and reports a run of failures once and its
// end once.
func TestFollowReportsRunsOfFailures(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	results := []error{nil, errors.New("down"), errors.New("still down"), nil, nil, errors.New("down again")}
	wake := make(chan struct{})
	called := make(chan struct{})
	var events []string
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		// An interval that never ticks within the test: only wakes run fn.
		Follow(ctx, time.Hour, wake, func(ctx context.Context) error {
			called <- struct{}{}
			if n == len(results) {
				// The last call: the one before it has been reported;
				// end the loop (a shutdown is not a failure).
				<-ctx.Done()
				return ctx.Err()
			}
			err := results[n]
			n++
			return err
		}, func(err error) { events = append(events, "fail: "+err.Error()) },
			func() { events = append(events, "recovered") })
	}()
	for range len(results) + 1 {
		wake <- struct{}{}
		<-called
	}
	cancel()
	<-done
	want := []string{"fail: down", "recovered", "fail: down again"}
	if !slices.Equal(events, want) {
		t.Errorf("events = %q, want %q", events, want)
	}
}

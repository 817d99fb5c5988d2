package login

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The pool tests run in a synctest bubble: time there is fake and moves
// only when every goroutine waits, so the wait for a slot is exact and
// costs no real time.

func TestPoolNeverRunsMoreThanItsSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(2, time.Hour)
		release := make(chan struct{})
		var running, peak atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				err := p.Do(t.Context(), func() {
					n := running.Add(1)
					for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
					}
					<-release
					running.Add(-1)
				})
				if err != nil {
					t.Errorf("Do: %v", err)
				}
			})
		}
		synctest.Wait() // two hold a slot, eight wait for one
		if n := running.Load(); n != 2 {
			t.Fatalf("%d running at once, want the pool's size 2", n)
		}
		close(release)
		wg.Wait()
		if n := peak.Load(); n != 2 {
			t.Fatalf("peak of %d running at once, want 2", n)
		}
	})
}

func TestPoolIsBusyAfterTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(1, 2*time.Second)
		hold := make(chan struct{})
		done := make(chan error)
		go func() { done <- p.Do(t.Context(), func() { <-hold }) }()
		synctest.Wait()

		start := time.Now()
		err := p.Do(t.Context(), func() { t.Error("ran without a slot") })
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("Do with every slot taken = %v, want ErrBusy", err)
		}
		if waited := time.Since(start); waited != 2*time.Second {
			t.Errorf("gave up after %v, want the pool's wait of 2s", waited)
		}
		close(hold)
		if err := <-done; err != nil {
			t.Fatalf("the holder: %v", err)
		}
		// The slot is free again.
		ran := false
		if err := p.Do(t.Context(), func() { ran = true }); err != nil || !ran {
			t.Fatalf("after release: %v, ran %v", err, ran)
		}
	})
}

func TestPoolGivesUpWhenTheRequestEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(1, time.Hour)
		hold := make(chan struct{})
		go p.Do(t.Context(), func() { <-hold })
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error)
		go func() { errc <- p.Do(ctx, func() { t.Error("ran without a slot") }) }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, want context.Canceled", err)
		}
		close(hold)
	})
}

func TestNewPoolDefaults(t *testing.T) {
	p := NewPool(0, 0)
	if cap(p.slots) < 1 || p.wait != DefaultPoolWait {
		t.Fatalf("pool of %d slots waiting %v", cap(p.slots), p.wait)
	}
}

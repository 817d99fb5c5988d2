package websession

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestThrottleLimitsPerUserAndPerAddress(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 3, Window: 10 * time.Minute, Now: clk.Now})

	for i := range 3 {
		if !th.Allow("alice", "10.0.0.1") {
			t.Fatalf("attempt %d refused", i+1)
		}
		th.Fail("alice", "10.0.0.1")
	}
	if th.Allow("alice", "10.0.0.1") {
		t.Fatal("fourth attempt allowed")
	}
	t.Run("the user is limited from another address", func(t *testing.T) {
		if th.Allow("alice", "10.0.0.2") {
			t.Fatal("allowed")
		}
	})
	t.Run("the address is limited for another user", func(t *testing.T) {
		if th.Allow("bob", "10.0.0.1") {
			t.Fatal("allowed")
		}
	})
	t.Run("others are not limited", func(t *testing.T) {
		if !th.Allow("bob", "10.0.0.2") {
			t.Fatal("refused")
		}
	})
	t.Run("retry after counts down to the oldest failure leaving the window", func(t *testing.T) {
		if got := th.RetryAfter("alice", "10.0.0.9"); got != 10*time.Minute {
			t.Fatalf("RetryAfter = %v", got)
		}
	})
}

func TestThrottleWindowSlides(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 2, Window: time.Minute, Now: clk.Now})
	th.Fail("alice", "a")
	clk.Advance(30 * time.Second)
	th.Fail("alice", "a")
	steps := []struct {
		name    string
		advance time.Duration
		allowed bool
	}{
		{"both failures in the window", 0, false},
		{"one second before the first leaves", 29 * time.Second, false},
		{"the first failure left the window", time.Second, true},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		if got := th.Allow("alice", "a"); got != s.allowed {
			t.Fatalf("%s: Allow = %v", s.name, got)
		}
	}
	th.Fail("alice", "a") // ring overwrites the oldest
	if th.Allow("alice", "a") {
		t.Fatal("allowed right after a new failure filled the window again")
	}
	clk.Advance(30 * time.Second)
	if !th.Allow("alice", "a") {
		t.Fatal("refused after the second failure left the window")
	}
}

func TestThrottleResetClearsUserOnly(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 1, Now: clk.Now})
	th.Fail("alice", "a")
	th.Reset("alice")
	if !th.Allow("alice", "b") {
		t.Fatal("user still limited after Reset")
	}
	if th.Allow("carol", "a") {
		t.Fatal("Reset cleared the address too")
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 1, Size: 100, Now: clk.Now})
	for i := range 1000 {
		th.Fail(fmt.Sprint("user", i), fmt.Sprint("addr", i))
	}
	if th.users.Len() != 100 || th.addrs.Len() != 100 {
		t.Fatalf("kept %d users, %d addresses", th.users.Len(), th.addrs.Len())
	}
	// The most recent stay limited, the oldest were forgotten.
	if th.Allow("user999", "x") || !th.Allow("user0", "y") {
		t.Fatal("LRU kept the wrong keys")
	}
}

func TestThrottleConcurrentUse(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 800, Now: clk.Now})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				th.Fail("alice", fmt.Sprint(g))
				th.Allow("alice", fmt.Sprint(i))
				if i%10 == 0 {
					th.Reset("bob")
				}
			}
		})
	}
	wg.Wait()
	// Exactly 800 failures were recorded, the limit: none was lost.
	if th.Allow("alice", "z") {
		t.Fatal("800 concurrent failures did not reach a limit of 800")
	}
}

package websession

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fail reserves an attempt and leaves it counted, as a wrong password does.
func fail(t *testing.T, th *Throttle, user, addr string) {
	t.Helper()
	if _, wait := th.Reserve(user, addr); wait > 0 {
		t.Fatalf("attempt for %s from %s refused (retry after %v)", user, addr, wait)
	}
}

func TestThrottleLimitsPerUserAndPerAddress(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 3, Window: 10 * time.Minute, Now: clk.Now})

	for range 3 {
		fail(t, th, "alice", "10.0.0.1")
	}
	if _, wait := th.Reserve("alice", "10.0.0.1"); wait != 10*time.Minute {
		t.Fatalf("fourth attempt: wait %v, want the whole window", wait)
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
	t.Run("a refused attempt is not counted", func(t *testing.T) {
		for range 10 {
			th.Reserve("carol", "10.0.0.1") // refused: the address is full
		}
		if !th.Allow("carol", "10.0.0.3") {
			t.Fatal("refused attempts counted against the user")
		}
	})
	t.Run("retry after counts down to the oldest attempt leaving the window", func(t *testing.T) {
		clk.Advance(4 * time.Minute)
		if got := th.RetryAfter("alice", "10.0.0.9"); got != 6*time.Minute {
			t.Fatalf("RetryAfter = %v", got)
		}
	})
}

func TestThrottleWindowSlides(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 2, Window: time.Minute, Now: clk.Now})
	fail(t, th, "alice", "a")
	clk.Advance(30 * time.Second)
	fail(t, th, "alice", "a")
	steps := []struct {
		name    string
		advance time.Duration
		allowed bool
	}{
		{"both attempts in the window", 0, false},
		{"one second before the first leaves", 29 * time.Second, false},
		{"the first attempt left the window", time.Second, true},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		if got := th.Allow("alice", "a"); got != s.allowed {
			t.Fatalf("%s: Allow = %v", s.name, got)
		}
	}
	fail(t, th, "alice", "a") // the expired attempt makes room
	if th.Allow("alice", "a") {
		t.Fatal("allowed right after a new attempt filled the window again")
	}
	clk.Advance(30 * time.Second)
	if !th.Allow("alice", "a") {
		t.Fatal("refused after the second attempt left the window")
	}
}

func TestThrottleSucceededForgetsTheUserAndGivesTheAttemptBack(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 2, Now: clk.Now})
	fail(t, th, "alice", "a")
	r, wait := th.Reserve("alice", "a")
	if wait > 0 {
		t.Fatal("second attempt refused")
	}
	th.Succeeded(r)
	if !th.Allow("alice", "b") {
		t.Fatal("user still limited after a successful login")
	}
	// The address keeps the failed attempt but not the successful one.
	fail(t, th, "carol", "a")
	if th.Allow("dave", "a") {
		t.Fatal("the address forgot its failed attempt")
	}
}

func TestThrottleCancelGivesTheAttemptBack(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 1, Now: clk.Now})
	r, _ := th.Reserve("alice", "a")
	if th.Allow("alice", "b") || th.Allow("bob", "a") {
		t.Fatal("a reserved attempt is not counted")
	}
	th.Cancel(r)
	if !th.Allow("alice", "a") {
		t.Fatal("a cancelled attempt still counts")
	}
	th.Cancel(Reservation{}) // a refused reservation settles to nothing
	th.Succeeded(Reservation{})
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 1, Size: 100, Now: clk.Now})
	for i := range 1000 {
		fail(t, th, fmt.Sprint("user", i), fmt.Sprint("addr", i))
	}
	if th.users.Len() != 100 || th.addrs.Len() != 100 {
		t.Fatalf("kept %d users, %d addresses", th.users.Len(), th.addrs.Len())
	}
	// The most recent stay limited, the oldest were forgotten.
	if th.Allow("user999", "x") || !th.Allow("user0", "y") {
		t.Fatal("LRU kept the wrong keys")
	}
	if a := mustPeek(t, th, "user999"); len(a.at) > 1 {
		t.Fatalf("a key keeps %d times, more than Max", len(a.at))
	}
}

func mustPeek(t *testing.T, th *Throttle, user string) *attempts {
	t.Helper()
	a, ok := th.users.Peek(key("user", user))
	if !ok {
		t.Fatalf("%s not kept", user)
	}
	return a
}

// TestThrottleReservationsUnderConcurrency: of many concurrent attempts
// for one user, exactly Max are reserved; the rest are refused without
// being counted.
func TestThrottleReservationsUnderConcurrency(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 5, Now: clk.Now})
	var reserved atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 50 {
		wg.Go(func() {
			<-start
			if _, wait := th.Reserve("alice", fmt.Sprint("addr", g)); wait == 0 {
				reserved.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := reserved.Load(); n != 5 {
		t.Fatalf("%d of 50 concurrent attempts reserved, want exactly 5", n)
	}
}

func TestThrottleConcurrentUse(t *testing.T) {
	clk := newClock()
	th := NewThrottle(ThrottleOptions{Max: 800, Now: clk.Now})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				th.Reserve("alice", fmt.Sprint(g))
				th.Allow("alice", fmt.Sprint(i))
				switch i % 10 {
				case 0:
					b, _ := th.Reserve("bob", "x")
					th.Succeeded(b)
				case 1:
					c, _ := th.Reserve("carol", "y")
					th.Cancel(c)
				}
			}
		})
	}
	wg.Wait()
	// Exactly 800 attempts were counted, the limit: none was lost.
	if th.Allow("alice", "z") {
		t.Fatal("800 concurrent attempts did not reach a limit of 800")
	}
	if !th.Allow("carol", "q") {
		t.Fatal("cancelled attempts were kept")
	}
}

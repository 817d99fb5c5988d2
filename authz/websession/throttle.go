package websession

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Throttle defaults.
const (
	DefaultMaxFailures = 5
	DefaultWindow      = 15 * time.Minute
	DefaultSize        = 10000
)

// ThrottleOptions configure a Throttle.
type ThrottleOptions struct {
	Max    int              // failures allowed per key within Window; DefaultMaxFailures when zero
	Window time.Duration    // sliding window; DefaultWindow when zero
	Size   int              // keys remembered per kind (users, addresses); DefaultSize when zero
	Now    func() time.Time // time.Now when nil
}

// Throttle limits failed logins per user name and per remote address with a
// sliding window. Memory is bounded: each kind keeps at most Size keys (the
// least recently failed are forgotten first), each with at most Max times,
// and keys are hashed so long names cost no more than short ones. It is
// safe for concurrent use.
type Throttle struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	users *simplelru.LRU[[32]byte, *failures]
	addrs *simplelru.LRU[[32]byte, *failures]
}

// failures is a ring of the last max failure times of one key.
type failures struct {
	at   []time.Time
	next int
}

// NewThrottle returns a Throttle.
func NewThrottle(opts ThrottleOptions) *Throttle {
	t := &Throttle{max: opts.Max, window: opts.Window, now: opts.Now}
	if t.max <= 0 {
		t.max = DefaultMaxFailures
	}
	if t.window <= 0 {
		t.window = DefaultWindow
	}
	if t.now == nil {
		t.now = time.Now
	}
	size := opts.Size
	if size <= 0 {
		size = DefaultSize
	}
	// NewLRU fails only for a size <= 0.
	t.users, _ = simplelru.NewLRU[[32]byte, *failures](size, nil)
	t.addrs, _ = simplelru.NewLRU[[32]byte, *failures](size, nil)
	return t
}

func key(kind, s string) [32]byte { return sha256.Sum256([]byte(kind + "\x00" + s)) }

// Allow reports whether a login attempt for user from addr may be checked:
// neither has failed Max times within the window.
func (t *Throttle) Allow(user, addr string) bool {
	return t.RetryAfter(user, addr) == 0
}

// RetryAfter returns how long until a login for user from addr is allowed
// again, or 0 when it is allowed now.
func (t *Throttle) RetryAfter(user, addr string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	return max(t.wait(t.users, key("user", user), now), t.wait(t.addrs, key("addr", addr), now))
}

func (t *Throttle) wait(l *simplelru.LRU[[32]byte, *failures], k [32]byte, now time.Time) time.Duration {
	f, ok := l.Peek(k)
	if !ok || len(f.at) < t.max {
		return 0
	}
	// The ring is full: the oldest entry is at next. Attempts are allowed
	// again once it leaves the window.
	oldest := f.at[f.next]
	if d := oldest.Add(t.window).Sub(now); d > 0 {
		return d
	}
	return 0
}

// Fail records a failed login for user from addr.
func (t *Throttle) Fail(user, addr string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.record(t.users, key("user", user), now)
	t.record(t.addrs, key("addr", addr), now)
}

func (t *Throttle) record(l *simplelru.LRU[[32]byte, *failures], k [32]byte, now time.Time) {
	f, ok := l.Get(k)
	if !ok {
		f = &failures{at: make([]time.Time, 0, t.max)}
		l.Add(k, f)
	}
	if len(f.at) < t.max {
		f.at = append(f.at, now)
		return
	}
	f.at[f.next] = now
	f.next = (f.next + 1) % t.max
}

// Reset forgets the failures of user (after a successful login). The
// address keeps its count, so one good account does not unlock guessing
// others from the same address.
func (t *Throttle) Reset(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users.Remove(key("user", user))
}

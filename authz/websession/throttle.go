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
	Max    int              // attempts allowed per key within Window; DefaultMaxFailures when zero
	Window time.Duration    // sliding window; DefaultWindow when zero
	Size   int              // keys remembered per kind (users, addresses); DefaultSize when zero
	Now    func() time.Time // time.Now when nil
}

// Throttle limits login attempts per user name and per remote address
// with a sliding window. An attempt is counted when it is reserved, before
// the password is checked, so concurrent guesses cannot all slip past the
// limit; a successful login gives its attempt back. Memory is bounded:
// each kind keeps at most Size keys (the least recently used are forgotten
// first), each with at most Max times, and keys are hashed so long names
// cost no more than short ones. It is safe for concurrent use.
type Throttle struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	users *simplelru.LRU[[32]byte, *attempts]
	addrs *simplelru.LRU[[32]byte, *attempts]
}

// attempts are the times of the last (at most max) attempts of one key,
// oldest first.
type attempts struct {
	at []time.Time
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
	t.users, _ = simplelru.NewLRU[[32]byte, *attempts](size, nil)
	t.addrs, _ = simplelru.NewLRU[[32]byte, *attempts](size, nil)
	return t
}

func key(kind, s string) [32]byte { return sha256.Sum256([]byte(kind + "\x00" + s)) }

// Reservation is one attempt counted by Reserve, to settle with Succeeded
// or Cancel.
type Reservation struct {
	user, addr [32]byte
	at         time.Time
}

// Reserve counts a login attempt for user from addr, before its password
// is checked. When the user or the address already has Max attempts within
// the window, nothing is counted and it returns how long until an attempt
// is allowed again; the password must then not be checked. The check and
// the count are one step, so of N concurrent attempts at most Max pass.
func (t *Throttle) Reserve(user, addr string) (Reservation, time.Duration) {
	r := Reservation{user: key("user", user), addr: key("addr", addr), at: t.now()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if wait := max(t.wait(t.users, r.user, r.at), t.wait(t.addrs, r.addr, r.at)); wait > 0 {
		return Reservation{}, wait
	}
	t.record(t.users, r.user, r.at)
	t.record(t.addrs, r.addr, r.at)
	return r, 0
}

// Succeeded settles a reservation whose password was right: the user's
// attempts are forgotten (a user who signs in starts afresh) and the
// address gets this attempt back, so signing in costs it nothing. The
// address keeps its failed attempts, so one good account does not unlock
// guessing others from the same address.
func (t *Throttle) Succeeded(r Reservation) {
	if r.at.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users.Remove(r.user)
	t.release(t.addrs, r.addr, r.at)
}

// Cancel gives a reservation back to the user and the address: its
// password was never checked (no hashing slot, store failure).
func (t *Throttle) Cancel(r Reservation) {
	if r.at.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.release(t.users, r.user, r.at)
	t.release(t.addrs, r.addr, r.at)
}

// Allow reports whether a login attempt for user from addr would be
// reserved now (it counts nothing).
func (t *Throttle) Allow(user, addr string) bool {
	return t.RetryAfter(user, addr) == 0
}

// RetryAfter returns how long until an attempt for user from addr is
// allowed again, or 0 when it is allowed now (it counts nothing).
func (t *Throttle) RetryAfter(user, addr string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	return max(t.wait(t.users, key("user", user), now), t.wait(t.addrs, key("addr", addr), now))
}

func (t *Throttle) wait(l *simplelru.LRU[[32]byte, *attempts], k [32]byte, now time.Time) time.Duration {
	a, ok := l.Peek(k)
	if !ok || len(a.at) < t.max {
		return 0
	}
	// Max attempts are kept: another is allowed once the oldest of the
	// last Max leaves the window.
	if d := a.at[len(a.at)-t.max].Add(t.window).Sub(now); d > 0 {
		return d
	}
	return 0
}

// record adds an attempt at now, dropping those that left the window (and
// the oldest past Max, though Reserve never records beyond it).
func (t *Throttle) record(l *simplelru.LRU[[32]byte, *attempts], k [32]byte, now time.Time) {
	a, ok := l.Get(k)
	if !ok {
		a = &attempts{at: make([]time.Time, 0, t.max)}
		l.Add(k, a)
	}
	drop := 0
	for drop < len(a.at) && !a.at[drop].Add(t.window).After(now) {
		drop++
	}
	if n := len(a.at) - drop; n >= t.max {
		drop += n - t.max + 1
	}
	a.at = append(a.at[:0], a.at[drop:]...)
	a.at = append(a.at, now)
}

// release removes one attempt recorded at at, if the key still has it.
func (t *Throttle) release(l *simplelru.LRU[[32]byte, *attempts], k [32]byte, at time.Time) {
	a, ok := l.Peek(k)
	if !ok {
		return
	}
	for i := len(a.at) - 1; i >= 0; i-- {
		if a.at[i].Equal(at) {
			a.at = append(a.at[:i], a.at[i+1:]...)
			break
		}
	}
	if len(a.at) == 0 {
		l.Remove(k)
	}
}

package login

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/websession"
	"github.com/clearance-gw/clearance/internal/clientip"
	"github.com/clearance-gw/clearance/internal/testclock"
)

// users is an in-memory user store.
type users struct {
	m   map[string]store.User
	err error
}

func (u users) GetUser(_ context.Context, name string) (store.User, error) {
	if u.err != nil {
		return store.User{}, u.err
	}
	if v, ok := u.m[name]; ok {
		return v, nil
	}
	return store.User{}, store.ErrNotFound
}

// fakeHash stands in for argon2id: the hash of pw is "h:"+pw; "corrupt"
// is unreadable. It counts the checks it makes.
type fakeHash struct {
	checks atomic.Int32
	gate   chan struct{} // when set, each check waits for it
}

func (f *fakeHash) verify(hash, pw string) (bool, error) {
	f.checks.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	if hash == "corrupt" {
		return false, errors.New("malformed password hash")
	}
	return hash == "h:"+pw, nil
}

type fixture struct {
	a     *Authenticator
	th    *websession.Throttle
	clk   *testclock.Clock
	hash  *fakeHash
	users users
}

var (
	addr1 = netip.MustParseAddr("198.51.100.1")
	addr2 = netip.MustParseAddr("198.51.100.2")
)

func newFixture(t *testing.T, pool *Pool) *fixture {
	t.Helper()
	f := &fixture{clk: testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), hash: &fakeHash{}}
	f.users = users{m: map[string]store.User{
		"alice":  {Name: "alice", PasswordHash: "h:right"},
		"bob":    {Name: "bob", PasswordHash: "h:right"},
		"broken": {Name: "broken", PasswordHash: "corrupt"},
	}}
	f.th = websession.NewThrottle(websession.ThrottleOptions{Max: 5, Window: 15 * time.Minute, Now: f.clk.Now})
	var err error
	f.a, err = New(f.users, Options{Throttle: f.th, Pool: pool, Verify: f.hash.verify})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoginAnswers(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	t.Run("right password", func(t *testing.T) {
		u, err := f.a.Login(ctx, "alice", "right", addr1)
		if err != nil || u.Name != "alice" {
			t.Fatalf("Login = %+v, %v", u, err)
		}
	})
	for _, tt := range []struct{ name, user, pw string }{
		{"wrong password", "bob", "wrong"},
		{"unknown user", "nobody", "right"},
		{"empty password", "bob", ""},
		{"empty user", "", "right"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.a.Login(ctx, tt.user, tt.pw, addr2); err != ErrInvalidCredentials {
				t.Fatalf("Login = %v, want ErrInvalidCredentials", err)
			}
		})
	}
	t.Run("corrupt stored hash is a server error, not a wrong password", func(t *testing.T) {
		_, err := f.a.Login(ctx, "broken", "right", addr1)
		if !errors.Is(err, ErrCorruptHash) || errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("Login = %v, want ErrCorruptHash", err)
		}
	})
	t.Run("store failure is a server error and is not counted", func(t *testing.T) {
		failing, _ := New(users{err: errors.New("database is down")}, Options{Throttle: f.th, Verify: f.hash.verify})
		before := f.hash.checks.Load()
		for range 10 {
			if _, err := failing.Login(ctx, "carol", "pw", addr1); err == nil || errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("Login = %v, want a server error", err)
			}
		}
		if f.hash.checks.Load() != before {
			t.Error("a password was hashed without its user")
		}
		if !f.th.Allow("carol", "x") {
			t.Error("attempts that were never checked were counted")
		}
	})
}

func TestLoginIsThrottledBeforeHashing(t *testing.T) {
	f := newFixture(t, nil)
	for range 5 {
		if _, err := f.a.Login(t.Context(), "alice", "guess", addr1); err != ErrInvalidCredentials {
			t.Fatal(err)
		}
	}
	before := f.hash.checks.Load()
	_, err := f.a.Login(t.Context(), "alice", "right", addr2)
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 15*time.Minute || te.Seconds() != 900 {
		t.Fatalf("sixth attempt = %v, want a ThrottledError of 15 minutes", err)
	}
	if f.hash.checks.Load() != before {
		t.Error("a throttled attempt was hashed")
	}
	t.Run("the address is throttled for other users", func(t *testing.T) {
		if _, err := f.a.Login(t.Context(), "bob", "right", addr1); !errors.As(err, &te) {
			t.Fatalf("Login = %v", err)
		}
	})
	t.Run("IPv6 addresses of one /64 share a count", func(t *testing.T) {
		for i := range 5 {
			a := netip.MustParseAddr("2001:db8:1:2::" + string(rune('a'+i)))
			f.a.Login(t.Context(), "user"+string(rune('a'+i)), "guess", a)
		}
		if _, err := f.a.Login(t.Context(), "bob", "right", netip.MustParseAddr("2001:db8:1:2:ffff::1")); !errors.As(err, &te) {
			t.Fatalf("sixth guess from the /64 = %v, want throttled", err)
		}
		if _, err := f.a.Login(t.Context(), "bob", "right", netip.MustParseAddr("2001:db8:1:3::1")); err != nil {
			t.Fatalf("another /64 = %v", err)
		}
	})
	t.Run("after the window", func(t *testing.T) {
		f.clk.Advance(15 * time.Minute)
		if _, err := f.a.Login(t.Context(), "alice", "right", addr1); err != nil {
			t.Fatalf("Login = %v", err)
		}
	})
}

func TestLoginSuccessCostsNoAttempt(t *testing.T) {
	f := newFixture(t, nil)
	for range 4 {
		f.a.Login(t.Context(), "alice", "guess", addr1)
	}
	for range 10 {
		if _, err := f.a.Login(t.Context(), "alice", "right", addr1); err != nil {
			t.Fatalf("a user who knows the password is locked out: %v", err)
		}
	}
	// The address kept its four failures: one more fills it.
	f.a.Login(t.Context(), "bob", "guess", addr1)
	if _, err := f.a.Login(t.Context(), "bob", "right", addr1); err == nil {
		t.Fatal("the address forgot its failures")
	}
}

// TestConcurrentGuessesBeyondTheLimitAreNotHashed: of 25 concurrent wrong
// passwords for one user, only the limit of 5 reach the hash; the rest are
// refused at once. The fake hash holds every check until all attempts are
// in, so none can finish (and be counted) before the others start.
func TestConcurrentGuessesBeyondTheLimitAreNotHashed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, NewPool(25, time.Hour))
		f.hash.gate = make(chan struct{})
		var throttled, wrong atomic.Int32
		var wg sync.WaitGroup
		for i := range 25 {
			wg.Go(func() {
				a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
				_, err := f.a.Login(t.Context(), "alice", "guess", a)
				var te *ThrottledError
				switch {
				case errors.As(err, &te):
					throttled.Add(1)
				case err == ErrInvalidCredentials:
					wrong.Add(1)
				default:
					t.Errorf("Login = %v", err)
				}
			})
		}
		synctest.Wait() // every attempt is refused or waiting in the hash
		if n := f.hash.checks.Load(); n != 5 {
			t.Errorf("%d concurrent attempts reached the hash, want the limit of 5", n)
		}
		close(f.hash.gate)
		wg.Wait()
		if wrong.Load() != 5 || throttled.Load() != 20 {
			t.Fatalf("%d wrong, %d throttled; want 5, 20", wrong.Load(), throttled.Load())
		}
	})
}

func TestLoginBusyIsNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, NewPool(1, 2*time.Second))
		f.hash.gate = make(chan struct{})
		done := make(chan error)
		go func() {
			_, err := f.a.Login(t.Context(), "alice", "right", addr1)
			done <- err
		}()
		synctest.Wait() // alice holds the only slot
		if _, err := f.a.Login(t.Context(), "bob", "guess", addr2); err != ErrBusy {
			t.Fatalf("Login with no slot free = %v, want ErrBusy", err)
		}
		close(f.hash.gate)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, wait := f.th.Reserve("bob", "x"); wait > 0 {
			t.Fatal("bob is throttled")
		}
		for range 5 { // the busy attempt gave its count back
			if _, wait := f.th.Reserve("zed", clientip.Key(addr2)); wait > 0 {
				t.Fatal("the busy attempt still counts against its address")
			}
		}
	})
}

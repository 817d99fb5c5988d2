// Package login checks a user's name and password: the one login of the
// gateway, used by the portal's sign-in page (which the authorization
// endpoint sends users to) and by the token endpoint's password, a2a and
// admin grants, so that the throttle, the address rule and the answers to
// every failure are the same for all of them.
//
// A login attempt is counted by the throttle before its password is
// hashed, per user and per client address (clientip.Key), so concurrent
// guesses beyond the limit are refused without costing a hash. Hashing
// runs on a bounded Pool, so a flood of logins cannot exhaust memory.
//
// Failures are values; each front end maps them to its answer in one
// place: ErrInvalidCredentials, *ThrottledError, ErrBusy, and errors
// wrapping ErrCorruptHash or a store failure (server errors, to log).
package login

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/websession"
	"github.com/clearance-gw/clearance/internal/clientip"
)

// Failures of Login. Anything else it returns (a store failure, a
// cancelled request) is a server error too.
var (
	// ErrInvalidCredentials is a wrong password, an unknown user, or an
	// empty name or password: one answer for all, so none is told apart.
	ErrInvalidCredentials = errors.New("wrong user name or password")
	// ErrBusy means no hashing slot freed in time; the attempt was not
	// checked and is not counted. Answer 503 with Retry-After.
	ErrBusy = errors.New("password checks are busy")
	// ErrCorruptHash is wrapped by the error for a user whose stored
	// password hash cannot be read: a server error, never "wrong password".
	ErrCorruptHash = errors.New("stored password hash is malformed")
)

// ThrottledError refuses an attempt while the user or the address has
// used up its attempts; the password was not checked.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many login attempts: retry after %d seconds", e.Seconds())
}

// Seconds is RetryAfter in whole seconds, rounded up, at least 1: the
// value of a Retry-After header.
func (e *ThrottledError) Seconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// BusyRetryAfter is the Retry-After, in seconds, to send with ErrBusy.
const BusyRetryAfter = 2

// Users finds users by name (the store).
type Users interface {
	GetUser(ctx context.Context, name string) (store.User, error)
}

// Throttle counts attempts before they are checked (websession.Throttle).
type Throttle interface {
	Reserve(user, addr string) (websession.Reservation, time.Duration)
	Succeeded(r websession.Reservation)
	Cancel(r websession.Reservation)
}

// Options are the optional parts of an Authenticator.
type Options struct {
	// Throttle counts attempts; a websession.Throttle with its defaults
	// (5 attempts per 15 minutes) when nil.
	Throttle Throttle
	// Pool bounds concurrent hashing; NewPool(0, 0) (one slot per CPU,
	// DefaultPoolWait) when nil.
	Pool *Pool
	// Verify checks a password against a stored hash;
	// secret.VerifyPassword when nil (tests pass a fake).
	Verify func(hash, password string) (bool, error)
	// Now is the default throttle's clock; time.Now when nil.
	Now func() time.Time
}

// Authenticator checks logins. It is safe for concurrent use; the wiring
// makes one and gives it to every front end.
type Authenticator struct {
	users    Users
	throttle Throttle
	pool     *Pool
	verify   func(hash, password string) (bool, error)
	// dummy is a hash checked for unknown users, so a wrong user name costs
	// what a wrong password does (no user enumeration by timing).
	dummy func() string
}

// New returns an Authenticator of the users.
func New(users Users, opts Options) (*Authenticator, error) {
	if users == nil {
		return nil, errors.New("login: a user store is required")
	}
	a := &Authenticator{users: users, throttle: opts.Throttle, pool: opts.Pool, verify: opts.Verify}
	if a.throttle == nil {
		a.throttle = websession.NewThrottle(websession.ThrottleOptions{Now: opts.Now})
	}
	if a.pool == nil {
		a.pool = NewPool(0, 0)
	}
	if a.verify == nil {
		a.verify = secret.VerifyPassword
	}
	a.dummy = sync.OnceValue(func() string {
		h, _ := secret.HashPassword("clearance: no such user")
		return h
	})
	return a, nil
}

// Login checks user's password for a client at addr (clientip: the peer,
// or the client behind a trusted proxy) and returns the user.
func (a *Authenticator) Login(ctx context.Context, user, password string, addr netip.Addr) (store.User, error) {
	if user == "" || password == "" {
		return store.User{}, ErrInvalidCredentials
	}
	res, wait := a.throttle.Reserve(user, clientip.Key(addr))
	if wait > 0 {
		return store.User{}, &ThrottledError{RetryAfter: wait}
	}
	u, err := a.check(ctx, user, password)
	switch {
	case err == nil:
		a.throttle.Succeeded(res)
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrCorruptHash):
		// The password was checked: the attempt stays counted.
	default:
		// Never checked (busy, store failure, request gone): give it back.
		a.throttle.Cancel(res)
	}
	return u, err
}

func (a *Authenticator) check(ctx context.Context, name, password string) (store.User, error) {
	u, err := a.users.GetUser(ctx, name)
	unknown := errors.Is(err, store.ErrNotFound)
	if err != nil && !unknown {
		return store.User{}, fmt.Errorf("get user: %w", err)
	}
	var ok bool
	var verr error
	if err := a.pool.Do(ctx, func() {
		hash := u.PasswordHash
		if unknown {
			hash = a.dummy()
		}
		ok, verr = a.verify(hash, password)
	}); err != nil {
		return store.User{}, err
	}
	switch {
	case unknown:
		return store.User{}, ErrInvalidCredentials
	case verr != nil:
		return store.User{}, fmt.Errorf("%w: user %q: %v", ErrCorruptHash, name, verr)
	case !ok:
		return store.User{}, ErrInvalidCredentials
	}
	return u, nil
}

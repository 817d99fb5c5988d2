package issuer_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/websession"
)

// TestPasswordGuessingIsThrottled: the grants that take a user's password
// stop answering for that user after repeated failures (429 with
// Retry-After), even for the right password, until the window passes.
func TestPasswordGuessingIsThrottled(t *testing.T) {
	var fx *fixture
	fx = newFixture(t, func(f *fixture) {
		f.throttle = websession.NewThrottle(websession.ThrottleOptions{Max: 5, Window: 15 * time.Minute, Now: f.clock.Now})
	})
	auth := []string{"Authorization", basic("app", appSecret)}
	try := func(pw string) response {
		return fx.form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {pw}}, auth...)
	}
	if r := try(alicePassword); r.status != 200 {
		t.Fatalf("right password: %d %s", r.status, r.raw)
	}
	for i := range 5 {
		if r := try("guess-" + strconv.Itoa(i)); r.status != 400 || r.str("error") != "invalid_grant" {
			t.Fatalf("guess %d: %d %s", i, r.status, r.raw)
		}
	}
	r := try(alicePassword)
	if r.status != 429 || r.str("error") != "invalid_grant" || r.header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d %s (Retry-After %q), want 429 invalid_grant", r.status, r.raw, r.header.Get("Retry-After"))
	}
	// a2a takes the password too and shares the limit.
	r = fx.form(url.Values{"grant_type": {"a2a"}, "username": {"alice"}, "password": {alicePassword}}, auth...)
	if r.status != 429 {
		t.Errorf("a2a while throttled: %d %s", r.status, r.raw)
	}
	fx.clock.Advance(16 * time.Minute)
	if r := try(alicePassword); r.status != 200 {
		t.Errorf("after the window: %d %s", r.status, r.raw)
	}
}

// loginAnswer is an Authenticator that answers every login with err.
type loginAnswer struct{ err error }

func (l loginAnswer) Login(context.Context, string, string, netip.Addr) (store.User, error) {
	return store.User{}, l.err
}

// TestLoginFailuresAtTheTokenEndpoint: each authz/login failure has one
// answer at the token endpoint, whichever grant took the password.
func TestLoginFailuresAtTheTokenEndpoint(t *testing.T) {
	for _, tt := range []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter string
	}{
		{"wrong password", login.ErrInvalidCredentials, 400, "invalid_grant", ""},
		{"throttled", &login.ThrottledError{RetryAfter: 90*time.Second + time.Millisecond}, 429, "invalid_grant", "91"},
		{"no hashing slot in time", login.ErrBusy, 503, "temporarily_unavailable", "2"},
		{"corrupt stored hash", fmt.Errorf("%w: user %q: bad salt", login.ErrCorruptHash, "alice"), 500, "server_error", ""},
		{"store failure", errors.New("get user: database is down"), 500, "server_error", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, func(f *fixture) { f.login = loginAnswer{tt.err} })
			for _, grant := range []string{"password", "a2a", "admin"} {
				r := fx.form(url.Values{"grant_type": {grant}, "username": {"alice"}, "password": {"pw"}, "subject": {"alice"}},
					"Authorization", basic("app", appSecret))
				if r.status != tt.status || r.str("error") != tt.code || r.header.Get("Retry-After") != tt.retryAfter {
					t.Errorf("%s grant: %d %s (Retry-After %q), want %d %s (Retry-After %q)",
						grant, r.status, r.raw, r.header.Get("Retry-After"), tt.status, tt.code, tt.retryAfter)
				}
			}
		})
	}
}

// TestCorruptHashIsAServerError: a user whose stored hash cannot be read
// gets 500 (and the log says why), not "wrong password".
func TestCorruptHashIsAServerError(t *testing.T) {
	fx := newFixture(t)
	if err := fx.st.CreateUser(t.Context(), store.User{Name: "mallory", PasswordHash: "$argon2id$v=19$bogus", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	r := fx.form(url.Values{"grant_type": {"password"}, "username": {"mallory"}, "password": {"pw"}}, "Authorization", basic("app", appSecret))
	if r.status != 500 || r.str("error") != "server_error" {
		t.Fatalf("%d %s, want 500 server_error", r.status, r.raw)
	}
	if !strings.Contains(fx.logs.String(), "stored password hash is malformed") {
		t.Errorf("the log does not name the corrupt hash:\n%s", fx.logs.String())
	}
}

package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/store"
)

// loginAnswer is an Authenticator that answers every login with err, and
// remembers the addresses it was given.
type loginAnswer struct {
	err   error
	mu    sync.Mutex
	addrs []netip.Addr
}

func (l *loginAnswer) Login(_ context.Context, _, _ string, addr netip.Addr) (store.User, error) {
	l.mu.Lock()
	l.addrs = append(l.addrs, addr)
	l.mu.Unlock()
	return store.User{}, l.err
}

// TestLoginFailureAnswers: each authz/login failure has one answer on the
// sign-in page (which the authorization endpoint sends users to).
func TestLoginFailureAnswers(t *testing.T) {
	for _, tt := range []struct {
		name       string
		err        error
		status     int
		text       string
		retryAfter string
	}{
		{"wrong password", login.ErrInvalidCredentials, http.StatusUnauthorized, "Wrong user name or password.", ""},
		{"throttled", &login.ThrottledError{RetryAfter: 61 * time.Second}, http.StatusTooManyRequests, "Too many failed sign-in attempts", "61"},
		{"no hashing slot in time", login.ErrBusy, http.StatusServiceUnavailable, "Too many people are signing in right now", "2"},
		{"corrupt stored hash", fmt.Errorf("%w: user %q: bad salt", login.ErrCorruptHash, "alice"), http.StatusInternalServerError, "Something went wrong", ""},
		{"store failure", errors.New("get user: database is down"), http.StatusInternalServerError, "Something went wrong", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.UserAuth = &loginAnswer{err: tt.err} })
			for _, next := range []string{"", "/authorize?client_id=web"} {
				b := e.browser()
				r := b.postForm("/portal/login?next="+url.QueryEscape(next), "/portal/login",
					url.Values{"username": {"alice"}, "password": {"pw"}, "next": {next}})
				wantStatus(t, r, tt.status)
				if !strings.Contains(r.body, tt.text) || r.Header.Get("Retry-After") != tt.retryAfter {
					t.Errorf("next %q: Retry-After %q, body lacks %q:\n%s", next, r.Header.Get("Retry-After"), tt.text, r.body)
				}
				if b.get("/portal/").StatusCode == http.StatusOK {
					t.Error("signed in after a failed login")
				}
			}
		})
	}
}

func TestLoginUsesTheClientAddress(t *testing.T) {
	fake := &loginAnswer{err: login.ErrInvalidCredentials}
	behind := netip.MustParseAddr("203.0.113.5")
	e := newEnv(t, func(o *Options) {
		o.UserAuth = fake
		o.ClientAddr = func(*http.Request) netip.Addr { return behind }
	})
	e.browser().postForm("/portal/login", "/portal/login", url.Values{"username": {"alice"}, "password": {"pw"}})
	if len(fake.addrs) != 1 || fake.addrs[0] != behind {
		t.Fatalf("login saw addresses %v, want [%s]", fake.addrs, behind)
	}
}

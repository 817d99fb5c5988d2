package issuer_test

import (
	"net/url"
	"strconv"
	"testing"
	"time"

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

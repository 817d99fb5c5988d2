package guard

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clearance-gw/clearance/config"
)

// fakeSubscriptions answers from a map of user -> active kinds, or err, and
// records every question.
type fakeSubscriptions struct {
	mu     sync.Mutex
	active map[string][]string
	err    error
	asked  []subscriptionQuestion
}

type subscriptionQuestion struct{ sub, token, kind string }

func (f *fakeSubscriptions) Active(_ context.Context, p Principal, token, kind string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, subscriptionQuestion{p.Subject, token, kind})
	if f.err != nil {
		return false, f.err
	}
	for _, k := range f.active[p.Subject] {
		if k == kind {
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeSubscriptions) set(active map[string][]string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active, f.err = active, err
}

func (f *fakeSubscriptions) questions() []subscriptionQuestion {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]subscriptionQuestion(nil), f.asked...)
}

var _ Subscriptions = (*fakeSubscriptions)(nil)

func withSubscriptions(s Subscriptions) fixtureOption {
	return func(_ *fixture, _ *config.Config, o *Options) { o.Subscriptions = s }
}

func TestSubscriptionPolicy(t *testing.T) {
	subs := &fakeSubscriptions{}
	f := newFixture(t, withSubscriptions(subs))
	tok := mint(t, f.rsa, claims(idpIssuer)) // sub pilot-7, scopes query_mapdata talk_tower
	fms := &config.Route{Name: "nav", Scopes: []string{"query_mapdata"}, Subscription: "fmsdata", InsufficientScopeStatus: 401}

	required := response{403, "", errBody("subscription_required", "an active fmsdata subscription is required")}
	unavailable := response{503, "", errBody("temporarily_unavailable", "subscriptions cannot be checked right now; retry later")}
	ok := response{200, "", "pilot-7||query_mapdata talk_tower"}
	tests := []struct {
		name   string
		active map[string][]string
		err    error
		route  *config.Route
		want   response
		asked  bool
	}{
		{"an active subscription of the type passes", map[string][]string{"pilot-7": {"charts", "fmsdata"}}, nil, fms, ok, true},
		{"no subscription is a 403 without a challenge", nil, nil, fms, required, true},
		{"a subscription of another type is a 403", map[string][]string{"pilot-7": {"charts"}}, nil, fms, required, true},
		{"another user's subscription does not count", map[string][]string{"pilot-8": {"fmsdata"}}, nil, fms, required, true},
		{"a failing source is a 503, not a 403", nil, errors.New("upstream down"), fms, unavailable, true},
		{"a route without a subscription never asks", nil, errors.New("must not be asked"),
			&config.Route{Scopes: []string{"query_mapdata"}, InsufficientScopeStatus: 401}, ok, false},
		{"the scope check comes first", map[string][]string{"pilot-7": {"fmsdata"}}, nil,
			&config.Route{Scopes: []string{"manage_users"}, Subscription: "fmsdata", InsufficientScopeStatus: 401},
			response{401, `Bearer realm="clearance", error="insufficient_scope", error_description="the token lacks a required scope", scope="manage_users"`,
				`{"error":"insufficient_scope","error_description":"the token lacks a required scope","scope":"manage_users"}` + "\n"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subs.set(tt.active, tt.err)
			before := len(subs.questions())
			srv := gatewayServer(t, f.guard, tt.route)
			if got := call(t, srv, "", "Bearer "+tok); got != tt.want {
				t.Fatalf("got\n %d %q\n %s\nwant\n %d %q\n %s", got.status, got.www, got.body, tt.want.status, tt.want.www, tt.want.body)
			}
			q := subs.questions()[before:]
			if !tt.asked {
				if len(q) != 0 {
					t.Fatalf("source asked %+v", q)
				}
				return
			}
			if want := (subscriptionQuestion{"pilot-7", tok, "fmsdata"}); len(q) != 1 || q[0] != want {
				t.Fatalf("questions = %+v, want one %+v (the raw token)", q, want)
			}
		})
	}

	t.Run("authentication only never asks", func(t *testing.T) {
		subs.set(nil, errors.New("must not be asked"))
		before := len(subs.questions())
		if _, err := f.guard.Check(bearerRequest(tok), nil); err != nil {
			t.Fatal(err)
		}
		if q := subs.questions()[before:]; len(q) != 0 {
			t.Fatalf("source asked %+v", q)
		}
	})
	t.Run("a token in the query is handed over too", func(t *testing.T) {
		subs.set(map[string][]string{"pilot-7": {"fmsdata"}}, nil)
		before := len(subs.questions())
		srv := gatewayServer(t, f.guard, fms)
		if got := call(t, srv, "access_token="+tok); got != ok {
			t.Fatalf("got %+v", got)
		}
		if q := subs.questions()[before:]; len(q) != 1 || q[0].token != tok {
			t.Fatalf("questions = %+v", q)
		}
	})
}

// The verified-token cache keeps the principal, never the subscription
// verdict: a subscription that lapses is refused on the next request.
func TestSubscriptionVerdictIsNotCached(t *testing.T) {
	subs := &fakeSubscriptions{active: map[string][]string{"pilot-7": {"fmsdata"}}}
	f := newFixture(t, withSubscriptions(subs))
	tok := mint(t, f.rsa, claims(idpIssuer))
	srv := gatewayServer(t, f.guard, &config.Route{Name: "nav", Subscription: "fmsdata", InsufficientScopeStatus: 401})
	for i, step := range []struct {
		active map[string][]string
		status int
	}{
		{map[string][]string{"pilot-7": {"fmsdata"}}, 200},
		{nil, 403},
		{map[string][]string{"pilot-7": {"fmsdata"}}, 200},
	} {
		subs.set(step.active, nil)
		if got := call(t, srv, "", "Bearer "+tok); got.status != step.status {
			t.Fatalf("request %d: got %d %s, want %d", i+1, got.status, got.body, step.status)
		}
	}
	if n := len(subs.questions()); n != 3 {
		t.Errorf("source asked %d times, want 3", n)
	}
	hits, _ := f.metrics.CacheCounters("token")
	if testutil.ToFloat64(hits) != 2 {
		t.Errorf("token cache hits = %v, want 2 (the token itself is cached)", testutil.ToFloat64(hits))
	}
	want := `
# HELP clearance_auth_failures_total Requests refused by token checks, by reason.
# TYPE clearance_auth_failures_total counter
clearance_auth_failures_total{reason="subscription"} 1
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "clearance_auth_failures_total"); err != nil {
		t.Error(err)
	}
}

func TestSubscriptionRouteWithoutSource(t *testing.T) {
	f := newFixture(t)
	tok := mint(t, f.rsa, claims(idpIssuer))
	_, err := f.guard.Check(bearerRequest(tok), &config.Route{Name: "nav", Subscription: "fmsdata"})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Code != "temporarily_unavailable" {
		t.Fatalf("err = %#v, want a 503 temporarily_unavailable", err)
	}
}

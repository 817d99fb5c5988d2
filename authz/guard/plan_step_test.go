package guard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/metering"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// nullUsage is a store that keeps nothing (the step never waits on it).
type nullUsage struct{}

func (nullUsage) AddUsage(context.Context, []store.UsageCount) error { return nil }
func (nullUsage) UsageTotals(context.Context, []string, time.Time) (map[string]store.UsageTotal, error) {
	return nil, nil
}

func withMeter(plans []config.Plan, def string) fixtureOption {
	return func(f *fixture, _ *config.Config, o *Options) {
		o.Meter = metering.New(nullUsage{}, &config.Config{Plans: plans, DefaultPlan: def}, metering.Options{Now: f.clock.Now})
	}
}

var meteredRoute = &config.Route{Name: "charts", Scopes: []string{"query_mapdata"}, InsufficientScopeStatus: 401, Metered: true}

func TestPlanStep(t *testing.T) {
	f := newFixture(t, withMeter([]config.Plan{{Name: "free", Rate: "1/min"}}, "free"))
	tok := mint(t, f.rsa, claims(idpIssuer))
	p, err := f.guard.Check(bearerRequest(tok), meteredRoute)
	if err != nil || !p.Usage.Metered() || p.Usage.RateLimit() != `"rate";r=0;t=60` {
		t.Fatalf("first request: %v, usage %+v", err, p.Usage)
	}
	_, err = f.guard.Check(bearerRequest(tok), meteredRoute)
	e, ok := err.(*Error)
	if !ok || e.Code != "rate_limited" || e.Status != http.StatusTooManyRequests || e.Usage == nil {
		t.Fatalf("second request: %v", err)
	}
	w := httptest.NewRecorder()
	WriteError(w, err, "clearance")
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	// The fields are written in the draft's spelling (a client reads them
	// under any case).
	h := w.Header()
	if w.Code != 429 || h.Get("Retry-After") != "60" || h.Get("WWW-Authenticate") != "" ||
		h["RateLimit"][0] != `"rate";r=0;t=60` || h["RateLimit-Policy"][0] != `"rate";q=1;w=60` ||
		body["error"] != "rate_limited" || body["error_description"] == "" {
		t.Fatalf("429: %d %v %s", w.Code, h, w.Body)
	}

	// Not metered: a route with metered: false, and a nil route.
	unmetered := *meteredRoute
	unmetered.Metered = false
	if p, err := f.guard.Check(bearerRequest(tok), &unmetered); err != nil || p.Usage.Metered() {
		t.Fatalf("metered: false: %v %+v", err, p.Usage)
	}
	// A trusted issuer's client and a local client of the same id are
	// counted apart.
	c := claims(localIssuer)
	c["client_id"] = "test-client"
	if _, err := f.guard.Check(bearerRequest(mint(t, f.local, c)), meteredRoute); err != nil {
		t.Fatalf("local client of the same id: %v", err)
	}
}

// TestPlanStepRunsLast: a request another step refuses is not
// counted (the plan step runs last).
func TestPlanStepRunsLast(t *testing.T) {
	f := newFixture(t, withMeter([]config.Plan{{Name: "free", Rate: "1/min"}}, "free"))
	tok := mint(t, f.rsa, claims(idpIssuer))
	wrongScope := *meteredRoute
	wrongScope.Scopes = []string{"manage_users"}
	for range 3 {
		if _, err := f.guard.Check(bearerRequest(tok), &wrongScope); err == nil {
			t.Fatal("accepted without the scope")
		}
	}
	if _, err := f.guard.Check(bearerRequest(tok), meteredRoute); err != nil {
		t.Fatalf("the refused requests were counted: %v", err)
	}
}

// TestPlanStepAllocatesNothing: metering a known client adds no
// allocation to the verified-token path.
func TestPlanStepAllocatesNothing(t *testing.T) {
	allocs := func(opts ...fixtureOption) float64 {
		f := newFixture(t, append(opts, withRevocations(&fakeRevocations{}))...)
		r := bearerRequest(mint(t, f.rsa, claims(idpIssuer)))
		if _, err := f.guard.Check(r, meteredRoute); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(200, func() { f.guard.Check(r, meteredRoute) })
	}
	bare := allocs()
	metered := allocs(withMeter([]config.Plan{{Name: "big", Rate: "1000000000/s", Quota: "1000000000/month"}}, "big"))
	if metered != bare {
		t.Fatalf("%v allocations per metered request, %v without a plan", metered, bare)
	}
}

// BenchmarkGuardMetered compares Check with a cached token on a route
// without and with a plan (compare the two ns/op of one run).
func BenchmarkGuardMetered(b *testing.B) {
	run := func(b *testing.B, f *fixture, route *config.Route) {
		r := bearerRequest(mint(b, f.rsa, claims(idpIssuer)))
		if _, err := f.guard.Check(r, route); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.guard.Check(r, route); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("unmetered", func(b *testing.B) {
		run(b, newFixture(b, withRevocations(&fakeRevocations{})), meteredRoute)
	})
	b.Run("metered", func(b *testing.B) {
		run(b, newFixture(b, withRevocations(&fakeRevocations{}),
			withMeter([]config.Plan{{Name: "big", Rate: "1000000000/s", Quota: "1000000000/month"}}, "big")), meteredRoute)
	})
}

package attack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/cli"
	"github.com/clearance-gw/clearance/internal/testclock"
	"github.com/clearance-gw/clearance/internal/testgateway"
)

// planStart is the fake clock's start: 23:00 UTC on the last day of a
// month ahead of the real clock (cookies and trusted tokens are judged by
// real clocks too), so the tests can cross a day and a month.
func planStart() time.Time {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month()+2, 0, 23, 0, 0, 0, time.UTC)
}

// plansConfig: "free" (3/s, 5 a day, scope charts) is the default plan,
// "pro" (100/min, 1000 a month) and "navdata" (no limits, scope airports)
// are given with the command line.
const plansConfig = `
plans:
  - {name: free, rate: 3/s, quota: 5/day, scopes: [charts]}
  - {name: pro, rate: 100/min, quota: 1000/month}
  - {name: navdata, scopes: [charts, airports]}
default_plan: free
`

// planGateway is a gateway with plans on a fake clock; restart stops it
// and starts another on the same config and database.
type planGateway struct {
	*gateway
	clock *testclock.Clock
	tg    *testgateway.Gateway
}

func startPlanGateway(t *testing.T) *planGateway {
	t.Helper()
	base := startGateway(t, gatewayOptions{extraRoutes: `  - name: unmetered
    path: /v1/unmetered/
    upstream: http://unmetered.invalid
    scopes: [charts]
    metered: false`})
	// The harness's gateway runs on the real clock: rewrite its config
	// with the plans and start one on a fake clock instead.
	src, err := os.ReadFile(base.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(src), "http://unmetered.invalid", base.up.srv.URL, 1) + plansConfig
	cfg = strings.Replace(cfg, "clearance.db", "plans.db", 1)
	path := filepath.Join(filepath.Dir(base.cfg), "plans.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pg := &planGateway{gateway: &gateway{t: t, up: base.up, ext: base.ext, cfg: path, client: base.client},
		clock: testclock.New(planStart())}
	pg.start()
	return pg
}

func (g *planGateway) start() {
	g.t.Helper()
	g.tg = testgateway.Start(g.t, g.cfg, testgateway.Options{Now: g.clock.Now, LogOnFailure: true})
	g.base, g.admin, g.host, g.logs = g.tg.Public(), g.tg.Admin(), g.tg.Addrs.Public, g.tg.Logs
}

func (g *planGateway) restart() {
	g.t.Helper()
	g.tg.Stop()
	g.start()
}

// cli runs a command on the gateway's fake clock.
func (g *planGateway) cli(stdin string, args ...string) string {
	g.t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Now: g.clock.Now,
		LookupEnv: func(string) (string, bool) { return "", false }}
	args = append(args, "--config", g.cfg)
	if code := cli.Run(g.t.Context(), args, env); code != 0 {
		g.t.Fatalf("clearance %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// rateLimit parses a RateLimit or RateLimit-Policy field into policy ->
// parameter -> value, failing the test on anything but the draft's
// syntax as the gateway writes it.
func rateLimit(t *testing.T, field string) map[string]map[string]int64 {
	t.Helper()
	out := map[string]map[string]int64{}
	for item := range strings.SplitSeq(field, ", ") {
		parts := strings.Split(item, ";")
		name, err := strconv.Unquote(parts[0])
		if err != nil || !strings.HasPrefix(parts[0], `"`) {
			t.Fatalf("%q: item %q does not start with a quoted policy name", field, item)
		}
		params := map[string]int64{}
		for _, p := range parts[1:] {
			k, v, ok := strings.Cut(p, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if !ok || err != nil || n < 0 {
				t.Fatalf("%q: parameter %q is not a non-negative integer", field, p)
			}
			params[k] = n
		}
		out[name] = params
	}
	return out
}

type planResponse struct {
	response
	policy, limit map[string]map[string]int64
}

// call calls a metered charts path with tok and parses the RateLimit
// fields (which must be present).
func (g *planGateway) call(path, tok string) planResponse {
	g.t.Helper()
	r := g.bearer(path, tok)
	pr := planResponse{response: r}
	pol, lim := r.header.Get("RateLimit-Policy"), r.header.Get("RateLimit")
	if pol == "" || lim == "" {
		g.t.Fatalf("GET %s: %d without RateLimit-Policy (%q) or RateLimit (%q)", path, r.status, pol, lim)
	}
	pr.policy, pr.limit = rateLimit(g.t, pol), rateLimit(g.t, lim)
	return pr
}

func wantError(t *testing.T, r response, code string) {
	t.Helper()
	var body struct{ Error, ErrorDescription string }
	_ = json.Unmarshal([]byte(strings.ReplaceAll(r.body, "error_description", "errordescription")), &body)
	if r.status != http.StatusTooManyRequests || body.Error != code || body.ErrorDescription == "" {
		t.Fatalf("got %d %s, want 429 with error %q and a description", r.status, r.body, code)
	}
}

// TestPlanRateQuotaAndHeaders: SPEC §11 against the running gateway. The
// rate is a token bucket (burst of one window), the quota a count per UTC
// day; every metered response carries both fields; a refused request is
// not forwarded and not counted; unmetered routes, public routes and the
// token endpoint carry no fields and count nothing.
func TestPlanRateQuotaAndHeaders(t *testing.T) {
	g := startPlanGateway(t)
	secret := g.createClient("free-app", "--scope", "charts")
	tok := g.clientCredentials("free-app", secret)

	tr := g.postForm("/token", url.Values{"grant_type": {"client_credentials"}}, "free-app", secret)
	if tr.header.Get("RateLimit") != "" || tr.header.Get("RateLimit-Policy") != "" {
		t.Errorf("the token endpoint is not metered, got RateLimit %q", tr.header.Get("RateLimit"))
	}

	forwarded := g.up.count()
	for i := range 3 {
		r := g.call("/v1/charts/EDDF", tok)
		if r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i+1, r.status, r.body)
		}
		if got := r.header.Get("RateLimit-Policy"); got != `"rate";q=3;w=1, "quota";q=5;w=86400` {
			t.Fatalf("RateLimit-Policy = %q", got)
		}
		if want := int64(2 - i); r.limit["rate"]["r"] != want || r.limit["rate"]["t"] != 1 {
			t.Errorf("request %d: rate %v, want r=%d;t=1", i+1, r.limit["rate"], want)
		}
		if want := int64(4 - i); r.limit["quota"]["r"] != want || r.limit["quota"]["t"] != 3600 {
			t.Errorf("request %d: quota %v, want r=%d;t=3600 (an hour to midnight UTC)", i+1, r.limit["quota"], want)
		}
	}
	if r := g.call("/v1/charts/EDDF", tok); r.limit["rate"]["r"] != 0 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("fourth request in the same second: %d, rate %v, Retry-After %q", r.status, r.limit["rate"], r.header.Get("Retry-After"))
	} else {
		wantError(t, r.response, "rate_limited")
		if r.limit["quota"]["r"] != 2 {
			t.Errorf("a refused request counted against the quota: %v", r.limit["quota"])
		}
	}
	if got := g.up.count() - forwarded; got != 3 {
		t.Fatalf("the upstream got %d requests, want 3: a refused request is not forwarded", got)
	}

	// Unmetered and public routes: no fields, nothing counted.
	if r := g.bearer("/v1/unmetered/x", tok); r.status != http.StatusOK || r.header.Get("RateLimit") != "" {
		t.Errorf("metered: false route: %d, RateLimit %q", r.status, r.header.Get("RateLimit"))
	}
	if r := g.get("/v1/public/x"); r.status != http.StatusOK || r.header.Get("RateLimit") != "" {
		t.Errorf("public route: %d, RateLimit %q", r.status, r.header.Get("RateLimit"))
	}

	g.clock.Advance(time.Second)
	for i := range 2 {
		if r := g.call("/v1/charts/EDDF", tok); r.status != http.StatusOK {
			t.Fatalf("after a second, request %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := g.call("/v1/charts/EDDF", tok)
	wantError(t, r.response, "quota_exceeded")
	if r.header.Get("Retry-After") != "3599" || r.limit["quota"]["r"] != 0 {
		t.Fatalf("quota used up: Retry-After %q, quota %v; want 3599 (to midnight UTC) and r=0", r.header.Get("Retry-After"), r.limit["quota"])
	}
	if r.limit["rate"]["r"] != 1 {
		t.Errorf("a request over quota took from the bucket: rate %v", r.limit["rate"])
	}

	// A new UTC day: a new quota.
	g.clock.Advance(time.Hour)
	if r := g.call("/v1/charts/EDDF", tok); r.status != http.StatusOK || r.limit["quota"]["r"] != 4 {
		t.Fatalf("next day: %d, quota %v", r.status, r.limit["quota"])
	}

	// The metric, by plan and outcome.
	m := g.get2(g.admin + "/metrics")
	for _, want := range []string{
		`clearance_metered_requests_total{outcome="allowed",plan="free"} 6`,
		`clearance_metered_requests_total{outcome="rate_limited",plan="free"} 1`,
		`clearance_metered_requests_total{outcome="quota_exceeded",plan="free"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// get2 fetches an absolute URL and returns its body.
func (g *planGateway) get2(u string) string {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	return g.do(req).body
}

// TestPlanCountsSurviveARestart: counts are written to SQLite (at least
// once a second, and at shutdown) and read back at start, so a quota used
// up stays used up after a restart; the usage command shows them.
func TestPlanCountsSurviveARestart(t *testing.T) {
	g := startPlanGateway(t)
	secret := g.createClient("app", "--scope", "charts")
	tok := g.clientCredentials("app", secret)
	for i := range 5 {
		g.clock.Advance(time.Second)
		if r := g.call("/v1/charts/x", tok); r.status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
	}
	// Written within a second, while the gateway runs.
	day1 := g.clock.Now().Format(time.DateOnly)
	eventually(t, "the counts reach the store", func() bool {
		return strings.Contains(g.cli("", "usage", "--client", "app", "--days", "1"), day1+"  5")
	})
	g.restart()
	wantError(t, g.call("/v1/charts/x", tok).response, "quota_exceeded")

	// Counted after the restart too, and read by the usage command.
	g.clock.Advance(time.Hour) // 1 June: a new day
	if r := g.call("/v1/charts/x", tok); r.status != http.StatusOK {
		t.Fatalf("next day: %d", r.status)
	}
	g.restart()
	var u struct {
		ClientID  string `json:"client_id"`
		Plan      string `json:"plan"`
		Quota     string `json:"quota"`
		QuotaUsed int64  `json:"quota_used"`
		QuotaLeft *int64 `json:"quota_left"`
		Days      []struct {
			Date     string `json:"date"`
			Requests int64  `json:"requests"`
		} `json:"days"`
	}
	out := g.cli("", "usage", "--client", "app", "--days", "3", "--json")
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatalf("usage --json: %v\n%s", err, out)
	}
	if u.Plan != "free" || u.Quota != "5/day" || u.QuotaUsed != 1 || u.QuotaLeft == nil || *u.QuotaLeft != 4 {
		t.Errorf("usage = %+v", u)
	}
	day0 := g.clock.Now().AddDate(0, 0, -2).Format(time.DateOnly)
	want := fmt.Sprint([]any{day0, 0, day1, 5, g.clock.Now().Format(time.DateOnly), 1})
	var got []any
	for _, d := range u.Days {
		got = append(got, d.Date, d.Requests)
	}
	if fmt.Sprint(got) != want {
		t.Errorf("days = %v, want %v", got, want)
	}
}

// TestPlanOfClientOwnerAndDefault: a client's plan, else its owner's,
// else default_plan; an owner's plan change applies within a second; a
// trusted issuer's client is metered by (iss, client_id) under
// default_plan, apart from a local client of the same id.
func TestPlanOfClientOwnerAndDefault(t *testing.T) {
	g := startPlanGateway(t)
	g.addUser("olga", "olga-password-1", "--plan", "pro")
	proSecret := g.createClient("pro-app", "--scope", "charts", "--plan", "pro")
	ownedSecret := g.createClient("owned-app", "--scope", "charts", "--owner", "olga")

	policy := func(tok string) string {
		return g.call("/v1/charts/x", tok).header.Get("RateLimit-Policy")
	}
	const pro, free = `"rate";q=100;w=60, "quota";q=1000;w=2592000`, `"rate";q=3;w=1, "quota";q=5;w=86400`
	// Clients and plans made with the command line apply within a second.
	proTok := g.clientCredentials("pro-app", proSecret)
	eventually(t, "the client's own plan applies", func() bool { return policy(proTok) == pro })
	owned := g.clientCredentials("owned-app", ownedSecret)
	// The client and its owner's plan reach the gateway's views apart,
	// each within a second.
	eventually(t, "the owner's plan applies to the client", func() bool { return policy(owned) == pro })
	g.cli("", "user", "update", "olga", "--plan", "")
	eventually(t, "the owner's plan change applies", func() bool {
		g.clock.Advance(time.Second)
		return policy(owned) == free
	})

	// A trusted issuer's "pro-app" is another tenant: default plan, own
	// counts.
	c := g.ext.claims()
	c["client_id"], c["iat"], c["exp"] = "pro-app", g.clock.Now().Unix(), g.clock.Now().Add(time.Hour).Unix()
	ext := g.ext.token(t, c)
	for i := range 3 {
		if r := g.call("/v1/charts/x", ext); r.status != http.StatusOK || r.header.Get("RateLimit-Policy") != free {
			t.Fatalf("trusted token %d: %d, policy %q", i+1, r.status, r.header.Get("RateLimit-Policy"))
		}
	}
	wantError(t, g.call("/v1/charts/x", ext).response, "rate_limited")
	if r := g.call("/v1/charts/x", g.clientCredentials("pro-app", proSecret)); r.status != http.StatusOK {
		t.Errorf("the local pro-app shares the trusted client's bucket: %d", r.status)
	}
}

// TestPlanScopesAreEntitlements: a plan's scopes join its users' portal
// entitlement (SPEC §10, §11): the token endpoint issues them to the
// users' portal clients, and stops when the plan changes.
func TestPlanScopesAreEntitlements(t *testing.T) {
	g := startPlanGateway(t)
	g.addUser("nina", "nina-password-1", "--plan", "navdata")
	u := g.portalLogin("nina", "nina-password-1")
	secret := u.newClient("nina-app", []string{"charts", "airports"}, "client_credentials")
	tr := g.token("nina-app", secret, url.Values{"grant_type": {"client_credentials"}})
	if tr.Scope != "charts airports" {
		t.Fatalf("scope = %q, want the navdata plan's charts airports", tr.Scope)
	}
	g.cli("", "user", "update", "nina", "--plan", "free")
	tr = g.token("nina-app", secret, url.Values{"grant_type": {"client_credentials"}})
	if tr.Scope != "charts" {
		t.Fatalf("after the plan change scope = %q, want charts (the free plan's)", tr.Scope)
	}
}

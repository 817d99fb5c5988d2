package attack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/testgateway"
)

// apiKey makes an admin API key with the command line and returns it.
func (g *gateway) apiKey(name string) string {
	g.t.Helper()
	var res struct {
		Key string `json:"key"`
	}
	out := g.cli("", "apikey", "create", "--name", name, "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Key == "" {
		g.t.Fatalf("apikey create --json: %v\n%s", err, out)
	}
	return res.Key
}

// adminCall sends one admin API request to base (a listener's URL).
func (g *gateway) adminCall(base, key, method, path, body string) response {
	g.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(g.t.Context(), method, base+"/admin/api/v1"+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return g.do(req)
}

// within polls cond for up to d: what SPEC §10 and §12 promise ("within
// one second") with no slack.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAdminAPIProvisioningStory is the story of SPEC §12 end to end: the
// operator's signup system creates a user with a plan and a subscription
// through the admin API; the user signs in to the portal, makes a client
// and calls a route that needs the subscription; billing removes the
// subscription (refused within a second), then deletes the user (the
// client's tokens refused within a second).
func TestAdminAPIProvisioningStory(t *testing.T) {
	nav := newUpstream(t)
	g := startGateway(t, gatewayOptions{extraRoutes: `  - name: nav
    path: /v1/nav/
    upstream: ` + nav.srv.URL + `
    scopes: [charts]
    subscription: fmsdata
plans:
  - name: gold
    rate: 100/s
    scopes: [charts]
`})
	key := g.apiKey("signup")
	api := func(method, path, body string, want int) map[string]any {
		t.Helper()
		r := g.adminCall(g.admin, key, method, path, body)
		if r.status != want {
			t.Fatalf("%s %s = %d, want %d\n%s", method, path, r.status, want, r.body)
		}
		var v map[string]any
		if r.body != "" {
			json.Unmarshal([]byte(r.body), &v)
		}
		return v
	}

	api("POST", "/users", `{"name":"carol","password":"carol password 1","plan":"gold"}`, http.StatusCreated)
	now := time.Now().UTC()
	sub := api("POST", "/users/carol/subscriptions", fmt.Sprintf(`{"type":"fmsdata","name":"Navigation Data","date_active":%q,"date_expiry":%q}`,
		now.AddDate(0, 0, -1).Format(time.DateOnly), now.AddDate(1, 0, 0).Format(time.DateOnly)), http.StatusCreated)

	// carol signs in to the portal; her plan entitles her clients to charts.
	carol := g.portalLogin("carol", "carol password 1")
	secret := carol.newClient("carol-app", []string{"charts"}, "client_credentials")
	tok := g.token("carol-app", secret, url.Values{"grant_type": {"client_credentials"}})
	if tok.Scope != "charts" {
		t.Fatalf("carol's client got scope %q, want charts (her plan's)", tok.Scope)
	}
	if r := g.bearer("/v1/nav/EDDF", tok.AccessToken); r.status != http.StatusOK {
		t.Fatalf("subscription route with an active subscription: %d %s", r.status, r.body)
	}
	if c := api("GET", "/clients/carol-app", "", http.StatusOK); c["owner"] != "carol" || c["plan"] != "" {
		t.Fatalf("the portal client as the API shows it: %v", c)
	}

	api("DELETE", fmt.Sprintf("/subscriptions/%v", sub["id"]), "", http.StatusNoContent)
	within(t, time.Second, "subscription route refused after the subscription was deleted", func() bool {
		return g.bearer("/v1/nav/EDDF", tok.AccessToken).status == http.StatusForbidden
	})

	api("DELETE", "/users/carol", "", http.StatusNoContent)
	within(t, time.Second, "the deleted user's client's token refused", func() bool {
		return g.bearer("/v1/charts/x", tok.AccessToken).status == http.StatusUnauthorized
	})
	if st, _ := g.tokenError("carol-app", secret, url.Values{"grant_type": {"client_credentials"}}); st != http.StatusUnauthorized {
		t.Errorf("token endpoint for the deleted user's client: %d, want 401", st)
	}
	api("GET", "/clients/carol-app", "", http.StatusNotFound)
	api("GET", "/users/carol", "", http.StatusNotFound)
	if logs := g.logs.String(); !strings.Contains(logs, `"api_key":"signup"`) || strings.Contains(logs, key) {
		t.Errorf("admin API calls are not logged by key name, or the key is logged")
	}
}

// TestAdminAPIOnlyOnAdminListener: the API answers on admin_listen only;
// the public listener never serves it, with or without a key, and the
// observability endpoints stay open.
func TestAdminAPIOnlyOnAdminListener(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	key := g.apiKey("ops")
	if r := g.adminCall(g.admin, key, "GET", "/users", ""); r.status != http.StatusOK {
		t.Fatalf("admin listener: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/users", "/openapi.json", "/keys"} {
		r := g.adminCall(g.base, key, "GET", p, "")
		if r.status != http.StatusNotFound || strings.Contains(r.body, "kid") || strings.Contains(r.body, "openapi") {
			t.Errorf("public listener GET /admin/api/v1%s = %d %s, want 404", p, r.status, r.body)
		}
	}
	if r := g.adminCall(g.base, key, "POST", "/users", `{"name":"eve","password":"eve password 1"}`); r.status == http.StatusCreated {
		t.Fatal("a user was created through the public listener")
	}
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		r := g.do(mustRequest(t, g.admin+p))
		if r.status != http.StatusOK {
			t.Errorf("GET %s without a key = %d, want 200", p, r.status)
		}
	}
	if r := g.adminCall(g.admin, "", "GET", "/users", ""); r.status != http.StatusUnauthorized ||
		r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("admin API without a key = %d %q, want 401 problem+json", r.status, r.header.Get("Content-Type"))
	}
}

func mustRequest(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestAdminAPIKeys: a key is stored only as a hash (list shows names), a
// revoked key is refused at the next request, and wrong keys from one
// address are throttled like passwords: past the limit even a good key
// waits (429, Retry-After) and the key is not checked.
func TestAdminAPIKeys(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	a, b := g.apiKey("billing"), g.apiKey("support")
	if list := g.cli("", "apikey", "list", "--json"); strings.Contains(list, a) || strings.Contains(list, b) ||
		!strings.Contains(list, `"billing"`) || !strings.Contains(list, `"support"`) {
		t.Fatalf("apikey list: %s", list)
	}
	if r := g.adminCall(g.admin, a, "GET", "/users", ""); r.status != http.StatusOK {
		t.Fatalf("billing key: %d", r.status)
	}
	g.cli("", "apikey", "revoke", "billing")
	within(t, time.Second, "revoked key refused", func() bool {
		return g.adminCall(g.admin, a, "GET", "/users", "").status == http.StatusUnauthorized
	})
	if r := g.adminCall(g.admin, b, "GET", "/users", ""); r.status != http.StatusOK {
		t.Fatalf("the other key after a revocation: %d", r.status)
	}
	// One failure is counted already (the revoked key); nine more reach
	// the limit of ten.
	for i := range 9 {
		if r := g.adminCall(g.admin, fmt.Sprintf("clr_admin_guess%d", i), "GET", "/users", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, r.status)
		}
	}
	r := g.adminCall(g.admin, b, "GET", "/users", "")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("after ten wrong keys: %d (Retry-After %q), want 429", r.status, r.header.Get("Retry-After"))
	}
}

// startWith runs one more instance of the cluster with routes and plans
// of its own: extra is YAML appended to the routes list (and may add
// top-level keys after it).
func (c *cluster) startWith(extra string) *gateway {
	c.t.Helper()
	dir := c.t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: %q
store: {driver: postgres, dsn: "${PG_DSN}"}
scopes: [charts, airports]
routes:
  - name: charts
    path: /v1/charts/
    upstream: %s
    scopes: [charts]
%sserver: {shutdown_grace: 2s}
`, gatewayIssuer, c.up.srv.URL, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		c.t.Fatal(err)
	}
	gw := testgateway.Start(c.t, path, testgateway.Options{LookupEnv: c.env, LogOnFailure: true})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c.t.Cleanup(tr.CloseIdleConnections)
	return &gateway{t: c.t, base: gw.Public(), admin: gw.Admin(), host: gw.Addrs.Public,
		cfg: path, logs: gw.Logs, up: c.up, ext: c.ext,
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// TestClusterAdminAPIProvisioningStory plays the provisioning story
// across two instances on one PostgreSQL database: the operator's
// systems call instance A, the customer uses instance B; what A's API
// removes is refused on B within a second, and a key revoked with the
// command line is refused by both at the next request.
func TestClusterAdminAPIProvisioningStory(t *testing.T) {
	c := newCluster(t)
	extra := `  - name: nav
    path: /v1/nav/
    upstream: ` + c.up.srv.URL + `
    scopes: [charts]
    subscription: fmsdata
plans:
  - name: gold
    scopes: [charts]
`
	a, b := c.startWith(extra), c.startWith(extra)
	var res struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(c.cli("", "apikey", "create", "--name", "billing", "--json")), &res); err != nil {
		t.Fatal(err)
	}
	api := func(g *gateway, method, path, body string, want int) map[string]any {
		t.Helper()
		r := g.adminCall(g.admin, res.Key, method, path, body)
		if r.status != want {
			t.Fatalf("%s %s = %d, want %d\n%s", method, path, r.status, want, r.body)
		}
		var v map[string]any
		json.Unmarshal([]byte(r.body), &v)
		return v
	}
	api(a, "POST", "/users", `{"name":"dave","password":"dave password 1","plan":"gold"}`, http.StatusCreated)
	now := time.Now().UTC()
	sub := api(a, "POST", "/users/dave/subscriptions", fmt.Sprintf(`{"type":"fmsdata","date_active":%q,"date_expiry":%q}`,
		now.AddDate(0, 0, -1).Format(time.DateOnly), now.AddDate(0, 1, 0).Format(time.DateOnly)), http.StatusCreated)

	dave := b.portalLogin("dave", "dave password 1")
	secret := dave.newClient("dave-app", []string{"charts"}, "client_credentials")
	tok := b.token("dave-app", secret, url.Values{"grant_type": {"client_credentials"}}).AccessToken
	if r := b.bearer("/v1/nav/EDDF", tok); r.status != http.StatusOK {
		t.Fatalf("B, subscription route: %d %s", r.status, r.body)
	}
	api(b, "GET", "/clients/dave-app", "", http.StatusOK)

	api(a, "DELETE", fmt.Sprintf("/subscriptions/%v", sub["id"]), "", http.StatusNoContent)
	within(t, time.Second, "B refuses the subscription route after A's API removed it", func() bool {
		return b.bearer("/v1/nav/EDDF", tok).status == http.StatusForbidden
	})
	api(a, "DELETE", "/users/dave", "", http.StatusNoContent)
	within(t, time.Second, "B refuses the deleted user's client's token", func() bool {
		return b.bearer("/v1/charts/x", tok).status == http.StatusUnauthorized
	})

	c.cli("", "apikey", "revoke", "billing")
	for _, g := range []*gateway{a, b} {
		if r := g.adminCall(g.admin, res.Key, "GET", "/users", ""); r.status != http.StatusUnauthorized {
			t.Errorf("revoked key: %d, want 401", r.status)
		}
	}
}

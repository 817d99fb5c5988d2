package attack

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/cli"
	"github.com/clearance-gw/clearance/internal/testgateway"
)

// Tenancy attacks of the outside review, findings 1 and 2 (SPEC §10): a
// portal client named after another user, and portal clients reaching
// scopes their owner is not entitled to.

const tenancyCB = "https://tenant.example/cb"

// startTenancyGateway runs a gateway whose scopes include an
// administrative one (manage_users, needed by /v1/users/) that portal
// users are not entitled to: portal.scopes is [charts].
func startTenancyGateway(t *testing.T) *gateway {
	t.Helper()
	up := newUpstream(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: %q
store: {driver: sqlite, dsn: %q}
scopes: [charts, airports, manage_users]
portal: {scopes: [charts]}
routes:
  - name: charts
    path: /v1/charts/
    upstream: %s
    scopes: [charts]
  - name: users
    path: /v1/users/
    upstream: %s
    scopes: [manage_users]
server: {shutdown_grace: 2s}
`, gatewayIssuer, filepath.Join(dir, "clearance.db"), up.srv.URL, up.srv.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := testgateway.Start(t, cfgPath, testgateway.Options{})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &gateway{t: t, base: gw.Public(), admin: gw.Admin(), host: gw.Addrs.Public,
		cfg: cfgPath, logs: gw.Logs, up: up,
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// cliFails runs a command that must fail and returns its stderr.
func (g *gateway) cliFails(stdin string, args ...string) string {
	g.t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Now: time.Now,
		LookupEnv: func(string) (string, bool) { return "", false }}
	args = append(args, "--config", g.cfg)
	if code := cli.Run(g.t.Context(), args, env); code == 0 {
		g.t.Fatalf("clearance %s succeeded:\n%s", strings.Join(args, " "), out.String())
	}
	return errb.String()
}

// portalUser is a signed-in browser with its CSRF token.
type portalUser struct {
	g    *gateway
	b    *http.Client
	csrf string
}

func (g *gateway) portalLogin(user, password string) *portalUser {
	g.t.Helper()
	b := g.browser()
	g.login(b, user, password, "")
	csrf := hiddenFields(g.page(b, http.MethodGet, "/portal/", nil).body).Get("csrf_token")
	if csrf == "" {
		g.t.Fatal("no CSRF token on the portal page")
	}
	return &portalUser{g: g, b: b, csrf: csrf}
}

// post sends a portal form with the CSRF token.
func (u *portalUser) post(path string, form url.Values) response {
	u.g.t.Helper()
	f := url.Values{"csrf_token": {u.csrf}}
	for k, v := range form {
		f[k] = v
	}
	return u.g.page(u.b, http.MethodPost, path, f)
}

// newClient creates a client in the portal with the given scopes ticked,
// enables grants (and a redirect URI for the browser grants), and returns
// its secret.
func (u *portalUser) newClient(id string, scopes []string, grants ...string) string {
	u.g.t.Helper()
	r := u.post("/portal/clients", url.Values{"id": {id}, "name": {id}, "scope": scopes})
	if r.status != http.StatusSeeOther {
		u.g.t.Fatalf("portal create %q: %d %s", id, r.status, r.body)
	}
	path := "/portal/clients/" + url.PathEscape(id)
	m := preSecret.FindStringSubmatch(u.g.page(u.b, http.MethodGet, path, nil).body)
	if m == nil {
		u.g.t.Fatal("no secret shown after creating a client")
	}
	if r := u.post(path+"/uris", url.Values{"redirect_uris": {tenancyCB}, "allowed_origins": {""}}); r.status != http.StatusSeeOther {
		u.g.t.Fatalf("redirect URIs: %d %s", r.status, r.body)
	}
	f := url.Values{}
	for _, gr := range grants {
		f.Set("grant_"+gr, "on")
	}
	if r := u.post(path+"/grants", f); r.status != http.StatusSeeOther {
		u.g.t.Fatalf("grants: %d %s", r.status, r.body)
	}
	return m[1]
}

// createToken presses "Create token" and returns the a2a token shown.
func (u *portalUser) createToken(id string) (response, string) {
	u.g.t.Helper()
	path := "/portal/clients/" + url.PathEscape(id)
	r := u.post(path+"/tokens", nil)
	if r.status != http.StatusSeeOther {
		return r, ""
	}
	m := preSecret.FindStringSubmatch(u.g.page(u.b, http.MethodGet, path, nil).body)
	if m == nil {
		u.g.t.Fatal("no token shown after Create token")
	}
	return r, m[1]
}

// scopeClaim is the scope claim of a token the gateway minted.
func scopeClaim(t *testing.T, tok string) string {
	t.Helper()
	_, payload, _ := segments(t, tok)
	s, _ := payload["scope"].(string)
	return s
}

// codeTokens runs the code flow (with PKCE) for the signed-in user and
// returns the token response.
func (u *portalUser) codeTokens(id, secret, scope string) tokenResponse {
	u.g.t.Helper()
	verifier, challenge := pkce("tenancy-verifier-0123456789-0123456789-0123456789")
	code := u.g.code(u.b, id, tenancyCB, challenge, scope)
	return u.g.token(id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {tenancyCB}, "code_verifier": {verifier}})
}

// TestClientIDCannotBeAnotherUsersName is finding 1: a portal user
// registered a client named after another user and, with
// client_credentials, got tokens whose sub (and X-Auth-Subject upstream)
// was that user's.
func TestClientIDCannotBeAnotherUsersName(t *testing.T) {
	g := startTenancyGateway(t)
	g.addUser("alice", "alice password 1", "--scope", "manage_users")
	g.addUser("Bob", "bob password 1")
	g.addUser("mallory", "mallory password 1")
	mallory := g.portalLogin("mallory", "mallory password 1")

	for _, id := range []string{"alice", "bob"} {
		t.Run("portal client "+id, func(t *testing.T) {
			r := mallory.post("/portal/clients", url.Values{"id": {id}, "name": {"Totally " + id}, "scope": {"charts"}})
			if r.status != http.StatusConflict || !strings.Contains(r.body, `class="alert alert-error"`) ||
				!strings.Contains(r.body, "without regard to case") {
				t.Fatalf("create %q: %d\n%s", id, r.status, r.body)
			}
			if r := g.page(mallory.b, http.MethodGet, "/portal/clients/"+id, nil); r.status != http.StatusNotFound {
				t.Fatalf("the client %q exists: %d", id, r.status)
			}
			// Nothing answers to the id at the token endpoint.
			if status, code := g.tokenError(id, "", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}); code != "invalid_client" {
				t.Errorf("token endpoint for %q: %d %s", id, status, code)
			}
		})
	}
	t.Run("command line client", func(t *testing.T) {
		msg := g.cliFails("", "client", "create", "--id", "alice", "--name", "A", "--grant", "client_credentials", "--scope", "charts")
		if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, `taken by the user "alice"`) || !strings.Contains(msg, "case-insensitively") {
			t.Errorf("client create alice: %q", msg)
		}
	})
	t.Run("user add with a client's id", func(t *testing.T) {
		mallory.newClient("mallory-app", []string{"charts"}, "client_credentials")
		g.createClient("ops-tool", "--grant", "client_credentials", "--scope", "charts")
		for _, name := range []string{"mallory-app", "Mallory-App", "ops-tool", "OPS-TOOL"} {
			msg := g.cliFails("password for "+name+"\n", "user", "add", name)
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "taken by the client") || !strings.Contains(msg, "case-insensitively") {
				t.Errorf("user add %q: %q", name, msg)
			}
			g.cliFails("", "user", "update", name, "--scope", "charts") // no such user was made
		}
	})
	t.Run("a client's token never carries a user's sub", func(t *testing.T) {
		sec := mallory.newClient("mallory-cc", []string{"charts"}, "client_credentials")
		tok := g.token("mallory-cc", sec, url.Values{"grant_type": {"client_credentials"}})
		if r := g.bearer("/v1/charts/x", tok.AccessToken); r.status != http.StatusOK {
			t.Fatalf("charts: %d %s", r.status, r.body)
		}
		if sub := g.up.last(t).Header.Get("X-Auth-Subject"); sub != "mallory-cc" {
			t.Fatalf("X-Auth-Subject %q, want the client id", sub)
		}
	})
}

// TestPortalClientsGetOnlyEntitledScopes is finding 2: every portal client
// got every scope of the gateway, so any customer reached manage_users,
// for a year with "Create token".
func TestPortalClientsGetOnlyEntitledScopes(t *testing.T) {
	g := startTenancyGateway(t)
	g.addUser("mallory", "mallory password 1")
	mallory := g.portalLogin("mallory", "mallory password 1")

	t.Run("forged New-client form", func(t *testing.T) {
		for _, scopes := range [][]string{{"manage_users"}, {"charts", "manage_users"}, {"airports"}} {
			r := mallory.post("/portal/clients", url.Values{"id": {"forged"}, "name": {"F"}, "scope": scopes})
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `class="alert alert-error"`) {
				t.Fatalf("create with %q: %d\n%s", scopes, r.status, r.body)
			}
			if r := g.page(mallory.b, http.MethodGet, "/portal/clients/forged", nil); r.status != http.StatusNotFound {
				t.Fatalf("the forged client exists: %d", r.status)
			}
		}
		if body := g.page(mallory.b, http.MethodGet, "/portal/", nil).body; strings.Contains(body, `value="manage_users"`) {
			t.Error("the New-client form offers manage_users")
		}
	})

	sec := mallory.newClient("mal-app", []string{"charts"}, "client_credentials", "authorization_code", "refresh_token")
	t.Run("forged client page form", func(t *testing.T) {
		r := mallory.post("/portal/clients/mal-app/scopes", url.Values{"scope": {"charts", "manage_users"}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `class="alert alert-error"`) {
			t.Fatalf("save scopes with manage_users: %d\n%s", r.status, r.body)
		}
		if r := g.page(mallory.b, http.MethodPost, "/portal/clients/mal-app/scopes", url.Values{"scope": {"charts"}}); r.status != http.StatusForbidden {
			t.Errorf("save scopes without a CSRF token: %d", r.status)
		}
	})
	t.Run("client_credentials", func(t *testing.T) {
		tok := g.token("mal-app", sec, url.Values{"grant_type": {"client_credentials"}})
		if tok.Scope != "charts" || scopeClaim(t, tok.AccessToken) != "charts" {
			t.Fatalf("scope %q, claim %q; want charts", tok.Scope, scopeClaim(t, tok.AccessToken))
		}
		if r := g.bearer("/v1/users/1", tok.AccessToken); r.status != http.StatusUnauthorized {
			t.Errorf("manage_users route: %d", r.status)
		}
		for _, scope := range []string{"manage_users", "charts manage_users"} {
			if status, code := g.tokenError("mal-app", sec, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}); status != http.StatusBadRequest || code != "invalid_scope" {
				t.Errorf("scope %q: %d %s, want 400 invalid_scope", scope, status, code)
			}
		}
	})
	t.Run("refresh", func(t *testing.T) {
		tok := mallory.codeTokens("mal-app", sec, "")
		if tok.Scope != "charts" || tok.RefreshToken == "" {
			t.Fatalf("code flow: scope %q, refresh token %v", tok.Scope, tok.RefreshToken != "")
		}
		status, code := g.tokenError("mal-app", sec, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {tok.RefreshToken}, "scope": {"charts manage_users"}})
		if status != http.StatusBadRequest || code != "invalid_scope" {
			t.Errorf("refresh asking for manage_users: %d %s", status, code)
		}
		next := g.token("mal-app", sec, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if next.Scope != "charts" || scopeClaim(t, next.AccessToken) != "charts" {
			t.Errorf("refreshed scope %q", next.Scope)
		}
	})
	t.Run("authorize", func(t *testing.T) {
		r := g.page(mallory.b, http.MethodGet, "/authorize?"+url.Values{"response_type": {"code"}, "client_id": {"mal-app"},
			"redirect_uri": {tenancyCB}, "scope": {"manage_users"}, "state": {"s"}}.Encode(), nil)
		if loc := r.header.Get("Location"); r.status != http.StatusFound || !strings.Contains(loc, "error=invalid_scope") {
			t.Errorf("authorize asking for manage_users: %d, Location %q", r.status, loc)
		}
	})
	t.Run("Create token", func(t *testing.T) {
		_, tok := mallory.createToken("mal-app")
		if got := scopeClaim(t, tok); got != "charts" {
			t.Fatalf("a2a token scope %q, want charts", got)
		}
		if r := g.bearer("/v1/users/1", tok); r.status != http.StatusUnauthorized {
			t.Errorf("manage_users route with the a2a token: %d", r.status)
		}
	})
}

// TestShrunkEntitlementAppliesToTheNextToken: the operator takes a scope
// away with "clearance user update"; the user's portal clients stop
// getting it at the next token, refreshed ones included.
func TestShrunkEntitlementAppliesToTheNextToken(t *testing.T) {
	g := startTenancyGateway(t)
	g.addUser("alice", "alice password 1", "--scope", "manage_users")
	alice := g.portalLogin("alice", "alice password 1")
	sec := alice.newClient("alice-admin", []string{"charts", "manage_users"}, "client_credentials", "authorization_code", "refresh_token")

	cc := g.token("alice-admin", sec, url.Values{"grant_type": {"client_credentials"}})
	if cc.Scope != "charts manage_users" {
		t.Fatalf("while entitled: scope %q", cc.Scope)
	}
	code := alice.codeTokens("alice-admin", sec, "charts manage_users")
	if code.Scope != "charts manage_users" {
		t.Fatalf("code flow while entitled: scope %q", code.Scope)
	}

	g.cli("", "user", "update", "alice", "--clear-scopes")

	t.Run("client_credentials", func(t *testing.T) {
		tok := g.token("alice-admin", sec, url.Values{"grant_type": {"client_credentials"}})
		if tok.Scope != "charts" || scopeClaim(t, tok.AccessToken) != "charts" {
			t.Errorf("scope %q after the entitlement shrank", tok.Scope)
		}
		if status, code := g.tokenError("alice-admin", sec, url.Values{"grant_type": {"client_credentials"}, "scope": {"manage_users"}}); status != http.StatusBadRequest || code != "invalid_scope" {
			t.Errorf("asking for manage_users: %d %s", status, code)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		status, ecode := g.tokenError("alice-admin", sec, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {code.RefreshToken}, "scope": {"manage_users"}})
		if status != http.StatusBadRequest || ecode != "invalid_scope" {
			t.Errorf("refresh asking for manage_users: %d %s", status, ecode)
		}
		next := g.token("alice-admin", sec, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {code.RefreshToken}})
		if next.Scope != "charts" || scopeClaim(t, next.AccessToken) != "charts" {
			t.Errorf("refreshed scope %q", next.Scope)
		}
		if r := g.bearer("/v1/users/1", next.AccessToken); r.status != http.StatusUnauthorized {
			t.Errorf("manage_users route with the refreshed token: %d", r.status)
		}
	})
	t.Run("Create token", func(t *testing.T) {
		_, tok := alice.createToken("alice-admin")
		if got := scopeClaim(t, tok); got != "charts" {
			t.Errorf("a2a token scope %q", got)
		}
	})
	t.Run("command line a2a token", func(t *testing.T) {
		out := g.cli("", "token", "a2a", "--client", "alice-admin", "--user", "alice", "--json")
		if !strings.Contains(out, `"scope": "charts"`) {
			t.Errorf("token a2a: %s", out)
		}
	})
	t.Run("entitled again", func(t *testing.T) {
		g.cli("", "user", "update", "alice", "--scope", "manage_users")
		tok := g.token("alice-admin", sec, url.Values{"grant_type": {"client_credentials"}, "scope": {"manage_users"}})
		if tok.Scope != "manage_users" {
			t.Errorf("scope %q", tok.Scope)
		}
	})
}

package attack

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestGatewayCookiesNeverReachUpstream signs in to the portal and sends
// its cookies (a 12-hour credential) to the routes: the upstream never
// receives a clearance_* cookie, while the API's own cookies pass in
// their order.
func TestGatewayCookiesNeverReachUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	tok := gatewayToken(g)
	g.addUser("alice", "correct horse battery")
	b := g.browser()
	g.login(b, "alice", "correct horse battery", "")
	base, _ := url.Parse(g.base)
	var own []string // name=value of every cookie the gateway set
	for _, p := range []string{"/", "/portal", "/portal/", "/authorize"} {
		for _, c := range b.Jar.Cookies(base.ResolveReference(&url.URL{Path: p})) {
			if nv := c.Name + "=" + c.Value; !strings.Contains(strings.Join(own, "\n"), nv) {
				own = append(own, nv)
			}
		}
	}
	if len(own) == 0 || !strings.Contains(strings.Join(own, ";"), "clearance_session=") {
		t.Fatalf("the portal set no session cookie: %q", own)
	}
	leaked := func(t *testing.T, s seen) {
		t.Helper()
		for k, vs := range s.Header {
			for _, v := range vs {
				for _, c := range own {
					_, val, _ := strings.Cut(c, "=")
					if strings.Contains(v, c) || (len(val) >= 16 && strings.Contains(v, val)) {
						t.Errorf("the upstream received the gateway's cookie %s in %s", c[:strings.IndexByte(c, '=')], k)
					}
				}
				if k == "Cookie" && strings.Contains(strings.ToLower(v), "clearance_") {
					t.Errorf("the upstream received Cookie %q", v)
				}
			}
		}
	}

	mixed := "theme=dark; " + strings.Join(own, "; ") + "; lang=de"
	for _, path := range []string{"/v1/charts/EDDF", "/v1/public/x", "/v1/fwd/x"} {
		t.Run("mixed cookies on "+path, func(t *testing.T) {
			r := g.bearer(path, tok, "Cookie", mixed)
			if r.status != http.StatusOK {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			s := g.up.last(t)
			leaked(t, s)
			if got := s.Header.Values("Cookie"); len(got) != 1 || got[0] != "theme=dark; lang=de" {
				t.Errorf("upstream Cookie %q, want [\"theme=dark; lang=de\"]", got)
			}
		})
	}
	t.Run("only the gateway's cookies: no Cookie header at all", func(t *testing.T) {
		r := g.rawGet("/v1/public/x", "Cookie: "+strings.Join(own, "; "), "Cookie: CLEARANCE_SESSION=x; Clearance_Csrf=y")
		if r.status != http.StatusOK {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		s := g.up.last(t)
		leaked(t, s)
		if v, ok := s.Header["Cookie"]; ok {
			t.Errorf("upstream Cookie %q", v)
		}
	})
	t.Run("the signed-in browser itself on a route", func(t *testing.T) {
		r := g.page(b, http.MethodGet, "/v1/public/x", nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		leaked(t, g.up.last(t))
	})
}

// TestIssuerAndActorForwarded checks the tenant headers: X-Auth-Issuer is
// the token's iss, X-Auth-Actor the administrator behind an admin-grant
// token, and neither can be sent by the client in any spelling.
func TestIssuerAndActorForwarded(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	spoof := []string{
		"X-Auth-Issuer: " + gatewayIssuer,
		"x-auth-issuer: https://evil.example",
		"X_Auth_Issuer: https://evil.example",
		"X-Auth_Issuer: https://evil.example",
		"X-Auth-Actor: root",
		"X_AUTH_ACTOR: root",
		"x-auth_actor: root",
	}
	identity := func(t *testing.T, s seen) map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for k, vs := range s.Header {
			if n := strings.ToLower(strings.ReplaceAll(k, "_", "-")); strings.HasPrefix(n, "x-auth-") {
				if strings.Contains(k, "_") {
					t.Errorf("an underscore spelling reached the upstream: %s %q", k, vs)
				}
				out[n] = vs
			}
		}
		return out
	}
	check := func(t *testing.T, path, tok string, want map[string]string) {
		t.Helper()
		r := g.rawGet(path, append([]string{"Authorization: Bearer " + tok}, spoof...)...)
		if r.status != http.StatusOK {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		got := identity(t, g.up.last(t))
		for k, v := range want {
			if vs := got[k]; len(vs) != 1 || vs[0] != v {
				t.Errorf("upstream %s = %q, want %q", k, vs, v)
			}
		}
		for k, vs := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("upstream %s = %q, want none", k, vs)
			}
		}
	}

	t.Run("a token of the gateway", func(t *testing.T) {
		check(t, "/v1/charts/EDDF", gatewayToken(g), map[string]string{
			"x-auth-subject": "forge-victim", "x-auth-client-id": "forge-victim", "x-auth-scope": "charts",
			"x-auth-issuer": gatewayIssuer,
		})
	})
	t.Run("a token of a trusted issuer", func(t *testing.T) {
		check(t, "/v1/charts/EDDF", g.ext.token(t, g.ext.claims()), map[string]string{
			"x-auth-subject": "alice", "x-auth-client-id": "ext-client", "x-auth-scope": "charts",
			"x-auth-issuer": g.ext.URL,
		})
	})
	t.Run("an admin-grant token names its administrator", func(t *testing.T) {
		g.addUser("root", "root password long enough", "--admin")
		g.addUser("bob", "bob password long enough")
		secret := g.createClient("support-tool", "--grant", "admin", "--scope", "charts", "--first-party")
		tr := g.token("support-tool", secret, url.Values{"grant_type": {"admin"}, "username": {"root"},
			"password": {"root password long enough"}, "subject": {"bob"}, "scope": {"charts"}})
		check(t, "/v1/charts/EDDF", tr.AccessToken, map[string]string{
			"x-auth-subject": "bob", "x-auth-client-id": "support-tool", "x-auth-scope": "charts",
			"x-auth-issuer": gatewayIssuer, "x-auth-actor": "root",
		})
	})
	t.Run("a public route forwards none", func(t *testing.T) {
		r := g.rawGet("/v1/public/x", spoof...)
		if r.status != http.StatusOK {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		if got := identity(t, g.up.last(t)); len(got) != 0 {
			t.Errorf("upstream identity headers %q", got)
		}
	})
}

// TestTrustedIssuerIsAnotherTenant gives the local alice an fmsdata
// subscription, then presents a trusted issuer's tokens for sub=alice
// (and for a client of hers, as its own client_credentials token would
// look): they neither pass a route that needs the subscription nor list
// alice's subscriptions.
func TestTrustedIssuerIsAnotherTenant(t *testing.T) {
	nav := newUpstream(t)
	g := startGateway(t, gatewayOptions{extraRoutes: `  - name: nav
    path: /v1/nav/
    upstream: ` + nav.srv.URL + `
    scopes: [charts]
    subscription: fmsdata
`})
	g.addUser("alice", "correct horse battery")
	now := time.Now().UTC()
	g.cli("", "subscription", "add", "--user", "alice", "--type", "fmsdata", "--name", "Alice's navigation data",
		"--from", now.AddDate(0, 0, -1).Format(time.DateOnly), "--until", now.AddDate(1, 0, 0).Format(time.DateOnly))
	secret := g.createClient("alice-app", "--grant", "client_credentials", "--scope", "charts", "--owner", "alice")
	local := g.token("alice-app", secret, url.Values{"grant_type": {"client_credentials"}}).AccessToken

	// The local alice (through her client's own token) has it.
	if r := g.bearer("/v1/nav/EDDF", local); r.status != http.StatusOK {
		t.Fatalf("local alice on the subscription route: %d %s", r.status, r.body)
	}
	if r := g.bearer("/v1/subscriptions/valid", local); r.status != http.StatusOK || !strings.Contains(r.body, "Alice's navigation data") {
		t.Fatalf("local alice's subscriptions: %d %s", r.status, r.body)
	}

	for name, claims := range map[string]map[string]any{
		"sub alice":                  {"sub": "alice", "client_id": "ext-client"},
		"sub alice, client alice":    {"sub": "alice", "client_id": "alice"},
		"the client's own token":     {"sub": "alice-app", "client_id": "alice-app"},
		"client alice-app for alice": {"sub": "alice", "client_id": "alice-app"},
	} {
		t.Run(name, func(t *testing.T) {
			c := g.ext.claims()
			for k, v := range claims {
				c[k] = v
			}
			c["jti"] = name
			tok := g.ext.token(t, c)
			before := nav.count()
			r := g.bearer("/v1/nav/EDDF", tok)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "subscription_required") {
				t.Errorf("subscription route: %d %s, want 403 subscription_required", r.status, r.body)
			}
			if nav.count() != before {
				t.Error("the request reached the upstream on the local alice's subscription")
			}
			r = g.bearer("/v1/subscriptions/valid", tok)
			if r.status == http.StatusOK {
				var list []map[string]any
				if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list) != 0 {
					t.Errorf("listed: %s", r.body)
				}
			}
			if strings.Contains(r.body, "Alice's navigation data") || strings.Contains(r.body, "fmsdata") {
				t.Errorf("the local alice's subscriptions were shown: %d %s", r.status, r.body)
			}
		})
	}
}

// TestSpellingsOfAProtectedPath puts a protected route under a public
// catch-all, as an API with a few private paths would: the spellings of
// the security review (which servlet, IIS and ASP.NET upstreams resolve to
// the protected resource) are refused or need a token, and are never
// forwarded without one.
func TestSpellingsOfAProtectedPath(t *testing.T) {
	site := newUpstream(t)
	g := startGateway(t, gatewayOptions{extraRoutes: `  - name: site
    path: /
    upstream: ` + site.srv.URL + `
    public: true
  - name: admin
    path: /v1/admin/
    upstream: ` + site.srv.URL + `
    scopes: [charts]
`})
	tok := gatewayToken(g)
	for _, target := range []string{
		"/V1/ADMIN/users",
		"/v1/admin;x=1/users",
		"/v1/admin%3Bx/users",
		"/v1/x/..%5cadmin/users",
		// and their neighbours
		"/v1/Admin/users",
		"/V1/admin;jsessionid=1/users",
		"/v1/admin%3bx/users",
		"/v1/;x/admin/users",
		"/v1/x/..%5Cadmin/users",
		"/v1/x/..\\admin/users",
		"/v1\\admin/users",
		"/v1/x/%2e%2e/admin/users",
		"/v1/x/..%2fadmin/users",
		"/v1%2fadmin/users",
		"/v1/admin/;/../users",
		"/v1/x/..;/admin/users",
	} {
		t.Run(target, func(t *testing.T) {
			before := site.count()
			r := g.rawGet(target)
			if r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized {
				t.Errorf("status %d %s, want 400 or 401", r.status, r.body)
			}
			if r.status == http.StatusBadRequest && (r.header.Get("Content-Type") != "application/json" || !strings.Contains(r.body, `"invalid_request"`)) {
				t.Errorf("400 is not the JSON error: %q %s", r.header.Get("Content-Type"), r.body)
			}
			if site.count() != before {
				t.Errorf("forwarded without a token as %q", site.last(t).RequestURI)
			}
		})
	}
	t.Run("backslashes are 400", func(t *testing.T) {
		for _, target := range []string{"/v1/x/..%5cadmin/users", "/v1/x/..%5Cadmin/users", "/v1/x/..\\admin/users", "/public\\x"} {
			if r := g.rawGet(target); r.status != http.StatusBadRequest {
				t.Errorf("%s: %d %s", target, r.status, r.body)
			}
		}
	})
	t.Run("with a token the client's spelling is forwarded, cleaned", func(t *testing.T) {
		r := g.rawGet("/V1/ADMIN;x=1/./users", "Authorization: Bearer "+tok)
		if r.status != http.StatusOK {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		s := site.last(t)
		if s.RequestURI != "/V1/ADMIN;x=1/users" || s.Header.Get("X-Auth-Subject") != "forge-victim" {
			t.Errorf("upstream got %q for %q", s.RequestURI, s.Header.Get("X-Auth-Subject"))
		}
	})
	t.Run("the rest of the site stays public", func(t *testing.T) {
		for _, target := range []string{"/", "/v1/administrators", "/v1/adminx/users", "/about;lang=de"} {
			if r := g.rawGet(target); r.status != http.StatusOK {
				t.Errorf("%s: %d %s", target, r.status, r.body)
			}
		}
	})
}

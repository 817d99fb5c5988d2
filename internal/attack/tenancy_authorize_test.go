package attack

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTenancyCookiePaths walks the portal login, the /authorize login and
// consent, a one-time secret (flash) and the logout, and checks every
// cookie the gateway sets: its Path is under /portal or the authorization
// endpoint, never "/", so the login never reaches a route or an upstream.
func TestTenancyCookiePaths(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	const cb = "https://app.example/cb"
	g.addUser("alice", "alice password 1")
	g.createClient("web", "--grant", "authorization_code", "--redirect-uri", cb, "--scope", "charts")

	var setCookies []string
	walk := func(b *http.Client, method, path string, form url.Values) response {
		t.Helper()
		r := g.page(b, method, path, form)
		setCookies = append(setCookies, r.header.Values("Set-Cookie")...)
		return r
	}
	b := g.browser()

	// /authorize before sign-in sends the browser to the login page.
	q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {cb}, "state": {"s"}}
	r := walk(b, http.MethodGet, "/authorize?"+q.Encode(), nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("authorize before sign-in: %d %s", r.status, r.body)
	}
	// The login page (pre-login CSRF cookie), then the login itself.
	r = walk(b, http.MethodGet, r.header.Get("Location"), nil)
	f := hiddenFields(r.body)
	f.Set("username", "alice")
	f.Set("password", "alice password 1")
	r = walk(b, http.MethodPost, "/portal/login", f)
	if r.status != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	paths := map[string]bool{}
	for _, sc := range r.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(sc); err == nil && c.Name == "clearance_session" {
			paths[c.Path] = true
		}
	}
	if !paths["/portal"] || !paths["/authorize"] || len(paths) != 2 {
		t.Errorf("the login is set on paths %v, want /portal and /authorize", paths)
	}
	// Back to /authorize: consent, with the /authorize cookie.
	consent := walk(b, http.MethodGet, r.header.Get("Location"), nil)
	if consent.status != http.StatusOK {
		t.Fatalf("consent page: %d %s", consent.status, consent.body)
	}
	f = hiddenFields(consent.body)
	f.Set("decision", "allow")
	r = walk(b, http.MethodPost, "/authorize", f)
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.HasPrefix(loc, cb+"?code=") {
		t.Fatalf("consent: %d %q", r.status, loc)
	}

	// The login is sent to the portal and /authorize, and nowhere else.
	sentTo := func(path string) []string {
		u, _ := url.Parse(g.base + path)
		var names []string
		for _, c := range b.Jar.Cookies(u) {
			if strings.HasPrefix(c.Name, "clearance_") {
				names = append(names, c.Name)
			}
		}
		return names
	}
	for _, p := range []string{"/portal/", "/authorize"} {
		if !strings.Contains(strings.Join(sentTo(p), " "), "clearance_session") {
			t.Errorf("the login is not sent to %s", p)
		}
	}
	for _, p := range []string{"/", "/v1/charts/EDDF", "/v1/public/x", "/token", "/authorizex", "/portalx"} {
		if names := sentTo(p); len(names) != 0 {
			t.Errorf("the browser sends %v to %s", names, p)
		}
	}
	// Through the proxy: the browser sends the upstream none of them.
	before := g.up.count()
	if r := g.page(b, http.MethodGet, "/v1/public/x", nil); r.status != http.StatusOK {
		t.Fatalf("public route: %d %s", r.status, r.body)
	}
	if g.up.count() != before+1 {
		t.Fatal("the public route did not reach the upstream")
	}
	if ck := g.up.last(t).Header.Get("Cookie"); strings.Contains(ck, "clearance_") {
		t.Errorf("the upstream received the gateway's cookies: %q", ck)
	}
	t.Run("portal pages, a one-time secret and the logout", func(t *testing.T) {
		list := walk(b, http.MethodGet, "/portal/", nil)
		csrf := hiddenFields(list.body).Get("csrf_token")
		r := walk(b, http.MethodPost, "/portal/clients", url.Values{"csrf_token": {csrf}, "id": {"alice-app"}, "name": {"Alice app"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("create client: %d %s", r.status, r.body)
		}
		page := walk(b, http.MethodGet, r.header.Get("Location"), nil)
		if page.status != http.StatusOK {
			t.Fatalf("client page: %d", page.status)
		}
		r = walk(b, http.MethodPost, "/portal/logout", url.Values{"csrf_token": {csrf}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		cleared := map[string]bool{}
		for _, sc := range r.header.Values("Set-Cookie") {
			if c, err := http.ParseSetCookie(sc); err == nil && c.Name == "clearance_session" && c.MaxAge < 0 {
				cleared[c.Path] = true
			}
		}
		if !cleared["/portal"] || !cleared["/authorize"] {
			t.Errorf("logout cleared the login on %v, want /portal and /authorize", cleared)
		}
		for _, p := range []string{"/portal/", "/authorize"} {
			if strings.Contains(strings.Join(sentTo(p), " "), "clearance_session") {
				t.Errorf("the login is still sent to %s after logout", p)
			}
		}
		// An error page before sign-in sets cookies too.
		walk(g.browser(), http.MethodGet, "/authorize?response_type=code&client_id=nobody", nil)
	})

	names := map[string]bool{}
	for _, sc := range setCookies {
		c, err := http.ParseSetCookie(sc)
		if err != nil {
			t.Errorf("unparsable Set-Cookie %q: %v", sc, err)
			continue
		}
		names[c.Name] = true
		if !strings.HasPrefix(c.Name, "clearance_") {
			t.Errorf("cookie %q is not named clearance_*", c.Name)
		}
		if c.Path != "/portal" && !strings.HasPrefix(c.Path, "/portal/") && c.Path != "/authorize" {
			t.Errorf("Set-Cookie %q: Path %q is not under /portal or /authorize", c.Name, c.Path)
		}
	}
	for _, n := range []string{"clearance_session", "clearance_csrf", "clearance_flash"} {
		if !names[n] {
			t.Errorf("the walk never saw %s set (saw %v)", n, names)
		}
	}
}

// TestTenancyNoOpenRedirectBeforeSignIn: a portal user registers an evil
// redirect URI on their own client; an authorization request with an
// error must not bounce a visitor who has not signed in to it (RFC 9700
// §4.11.2). After sign-in, an error goes to the registered URI only.
func TestTenancyNoOpenRedirectBeforeSignIn(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	const evil = "https://evil.example/landing"
	g.addUser("mallory", "mallory password 1")
	g.addUser("alice", "alice password 1")
	g.createClient("mallory-web", "--owner", "mallory", "--grant", "authorization_code", "--redirect-uri", evil, "--scope", "charts")
	g.createClient("mallory-spa", "--owner", "mallory", "--public", "--grant", "authorization_code", "--redirect-uri", evil, "--scope", "charts")

	cases := []struct {
		name, code string
		q          url.Values
	}{
		{"unsupported response_type", "unsupported_response_type", url.Values{"client_id": {"mallory-web"}, "response_type": {"bogus"}}},
		{"missing response_type", "invalid_request", url.Values{"client_id": {"mallory-web"}}},
		{"grant not enabled", "unauthorized_client", url.Values{"client_id": {"mallory-web"}, "response_type": {"token"}}},
		{"undeclared scope", "invalid_scope", url.Values{"client_id": {"mallory-web"}, "response_type": {"code"}, "scope": {"airports"}}},
		{"PKCE missing for a public client", "invalid_request", url.Values{"client_id": {"mallory-spa"}, "response_type": {"code"}}},
		{"PKCE plain", "invalid_request", url.Values{"client_id": {"mallory-spa"}, "response_type": {"code"},
			"code_challenge": {"abc"}, "code_challenge_method": {"plain"}}},
		{"repeated parameter", "invalid_request", url.Values{"client_id": {"mallory-web"}, "response_type": {"code"}, "state": {"a", "b"}}},
	}
	with := func(q url.Values) url.Values {
		out := url.Values{"redirect_uri": {evil}}
		for k, v := range q {
			out[k] = v
		}
		if _, ok := out["state"]; !ok {
			out.Set("state", "st")
		}
		return out
	}
	for _, tc := range cases {
		t.Run("before sign-in: "+tc.name, func(t *testing.T) {
			anon := g.browser()
			q := with(tc.q)
			for _, r := range []response{
				g.page(anon, http.MethodGet, "/authorize?"+q.Encode(), nil),
				g.page(anon, http.MethodPost, "/authorize", q),
			} {
				if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
					t.Fatalf("%d, Location %q", r.status, r.header.Get("Location"))
				}
				if strings.Contains(r.body, "evil.example") {
					t.Error("the error page names or links the evil redirect URI")
				}
				if !strings.Contains(r.body, `href="/portal/"`) || !strings.Contains(r.body, tc.code) {
					t.Errorf("the error page lacks a link back or the error %s:\n%s", tc.code, r.body)
				}
				framingDenied(t, "the error page", r)
			}
		})
	}

	alice := g.browser()
	g.login(alice, "alice", "alice password 1", "")
	for _, tc := range cases {
		t.Run("after sign-in: "+tc.name, func(t *testing.T) {
			q := with(tc.q)
			r := g.page(alice, http.MethodGet, "/authorize?"+q.Encode(), nil)
			loc := r.header.Get("Location")
			// In the query, or in the fragment for response_type=token.
			if r.status != http.StatusFound || !strings.HasPrefix(loc, evil+"?") && !strings.HasPrefix(loc, evil+"#") {
				t.Fatalf("%d, Location %q: want the registered URI", r.status, loc)
			}
			params, err := url.ParseQuery(loc[len(evil)+1:])
			if err != nil || params.Get("error") != tc.code || params.Has("code") || params.Has("access_token") {
				t.Errorf("redirected with %v (%v)", params, err)
			}
		})
	}
	t.Run("after sign-in: an unregistered URI is still a page", func(t *testing.T) {
		q := url.Values{"client_id": {"mallory-web"}, "response_type": {"bogus"}, "redirect_uri": {"https://evil.example/other"}}
		r := g.page(alice, http.MethodGet, "/authorize?"+q.Encode(), nil)
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Fatalf("%d, Location %q", r.status, r.header.Get("Location"))
		}
	})
}

// TestTenancyStolenCodeStaysWithItsClient: mallory's portal client
// presents the authorization code alice got for another client. It is
// refused (invalid_grant) and revokes nothing; the rightful client then
// redeems it and its token works at the proxy. (The rightful clients are
// the operator's, so their scopes do not depend on an owner's
// entitlements.)
func TestTenancyStolenCodeStaysWithItsClient(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	const cb = "https://alice-app.example/cb"
	g.addUser("alice", "alice password 1")
	g.addUser("mallory", "mallory password 1")
	aliceSecret := g.createClient("alice-web", "--grant", "authorization_code", "--grant", "refresh_token",
		"--redirect-uri", cb, "--scope", "charts")
	g.createClient("alice-spa", "--public", "--grant", "authorization_code",
		"--redirect-uri", cb, "--scope", "charts")
	mallorySecret := g.createClient("mallory-web", "--owner", "mallory", "--grant", "authorization_code",
		"--redirect-uri", "https://mallory.example/cb", "--scope", "charts")

	b := g.browser()
	g.login(b, "alice", "alice password 1", "")
	verifier, challenge := pkce("a-long-enough-code-verifier-for-the-stolen-code-test-0123456789")

	for _, tc := range []struct {
		name, client, secret, challenge string
	}{
		{"confidential client", "alice-web", aliceSecret, ""},
		{"public client with PKCE", "alice-spa", "", challenge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := g.code(b, tc.client, cb, tc.challenge, "charts")
			stolen := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}}
			if tc.challenge != "" {
				stolen.Set("code_verifier", verifier)
			}
			// Mallory's client tries it, with alice's and with its own redirect URI.
			for _, redirect := range []string{cb, "https://mallory.example/cb"} {
				stolen.Set("redirect_uri", redirect)
				status, errCode := g.tokenError("mallory-web", mallorySecret, stolen)
				if status != http.StatusBadRequest || errCode != "invalid_grant" {
					t.Fatalf("stolen code: %d %s, want 400 invalid_grant", status, errCode)
				}
			}

			own := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}}
			basicID := tc.client
			if tc.challenge != "" {
				own.Set("code_verifier", verifier)
			}
			if tc.secret == "" { // a public client names itself in the body
				own.Set("client_id", tc.client)
				basicID = ""
			}
			tr := g.token(basicID, tc.secret, own)
			access := tr.AccessToken
			if r := g.bearer("/v1/charts/EDDF", access); r.status != http.StatusOK {
				t.Fatalf("alice's token at the proxy: %d %s", r.status, r.body)
			}
			if tc.secret != "" {
				// The session lives on: its refresh token works.
				access = g.token(tc.client, tc.secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}).AccessToken
				if r := g.bearer("/v1/charts/EDDF", access); r.status != http.StatusOK {
					t.Fatalf("the refreshed token at the proxy: %d %s", r.status, r.body)
				}
			}
			// Mallory's client trying the used code still revokes nothing.
			stolen.Set("redirect_uri", cb)
			if status, errCode := g.tokenError("mallory-web", mallorySecret, stolen); status != http.StatusBadRequest || errCode != "invalid_grant" {
				t.Fatalf("used code by another client: %d %s", status, errCode)
			}
			if r := g.bearer("/v1/charts/EDDF", access); r.status != http.StatusOK {
				t.Fatalf("alice's token after the second theft attempt: %d %s", r.status, r.body)
			}
		})
	}
}

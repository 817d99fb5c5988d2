package attack

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Finding 5 of the tenancy review: deleting a client did not revoke its
// client_credentials tokens (they stayed valid until exp, and a new client
// with the same id took them over), and deleting a user was not possible
// at all. Deleting a client (portal or CLI) or a user must make every token
// issued to it, through it or to the user refused at the proxy: at once on
// the instance that deleted, within a second through the store otherwise.

// anyTokenRoutes adds /v1/anytoken/, which needs a valid token and no
// scope, so these tests do not depend on the scopes a portal client gets
// (their users are entitled to charts, which their portal clients tick).
func anyTokenRoutes(up *upstream) string {
	return fmt.Sprintf("  - name: anytoken\n    path: /v1/anytoken/\n    upstream: %s\n", up.srv.URL)
}

// accepted reports whether the proxy lets tok through to the upstream; a
// refusal must be the 401 of a revoked token.
func (g *gateway) accepted(tok string) bool {
	g.t.Helper()
	r := g.bearer("/v1/anytoken/x", tok)
	switch {
	case r.status == http.StatusOK:
		return true
	case r.status == http.StatusUnauthorized && strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`):
		return false
	}
	g.t.Fatalf("token neither accepted nor refused as invalid: %d %s", r.status, r.body)
	return false
}

var (
	secretRE = regexp.MustCompile(`<pre class="secret" id="secret">([^<]+)</pre>`)
	tokenRE  = regexp.MustCompile(`<pre class="secret" id="token">([^<]+)</pre>`)
)

// portalClient creates a client in the portal as the signed-in browser's
// user, enables client_credentials and returns its secret.
func (g *gateway) portalClient(b *http.Client, id string) string {
	g.t.Helper()
	csrf := hiddenFields(g.page(b, http.MethodGet, "/portal/", nil).body).Get("csrf_token")
	r := g.page(b, http.MethodPost, "/portal/clients", url.Values{"csrf_token": {csrf}, "id": {id}, "name": {id}, "scope": {"charts"}})
	if r.status != http.StatusSeeOther {
		g.t.Fatalf("portal: create client %s: %d %s", id, r.status, r.body)
	}
	m := secretRE.FindStringSubmatch(g.page(b, http.MethodGet, r.header.Get("Location"), nil).body)
	if m == nil {
		g.t.Fatalf("portal: no secret shown for %s", id)
	}
	r = g.page(b, http.MethodPost, "/portal/clients/"+url.PathEscape(id)+"/grants",
		url.Values{"csrf_token": {csrf}, "grant_client_credentials": {"on"}})
	if r.status != http.StatusSeeOther {
		g.t.Fatalf("portal: enable client_credentials for %s: %d %s", id, r.status, r.body)
	}
	return html.UnescapeString(m[1])
}

// portalA2A creates an application-to-application token in the portal.
func (g *gateway) portalA2A(b *http.Client, id string) string {
	g.t.Helper()
	page := "/portal/clients/" + url.PathEscape(id)
	csrf := hiddenFields(g.page(b, http.MethodGet, page, nil).body).Get("csrf_token")
	if r := g.page(b, http.MethodPost, page+"/tokens", url.Values{"csrf_token": {csrf}}); r.status != http.StatusSeeOther {
		g.t.Fatalf("portal: create a2a token: %d %s", r.status, r.body)
	}
	m := tokenRE.FindStringSubmatch(g.page(b, http.MethodGet, page, nil).body)
	if m == nil {
		g.t.Fatal("portal: no a2a token shown")
	}
	return html.UnescapeString(m[1])
}

func (g *gateway) clientCredentials(id, secret string) string {
	g.t.Helper()
	return g.token(id, secret, url.Values{"grant_type": {"client_credentials"}}).AccessToken
}

// freshAccepted requires a token freshly issued to the client to be
// accepted at once: a client made again under a deleted client's id is
// another client, and the deletion's cutoff does not cover it, even in the
// second (or the microsecond) of the deletion. It returns the token.
func (g *gateway) freshAccepted(id, secret string) string {
	g.t.Helper()
	tok := g.clientCredentials(id, secret)
	if !g.accepted(tok) {
		g.t.Errorf("a fresh token of the new %s is refused right after it was made", id)
	}
	return tok
}

// portalDelete deletes a client on its portal page.
func (g *gateway) portalDelete(b *http.Client, id string) {
	g.t.Helper()
	page := "/portal/clients/" + url.PathEscape(id)
	csrf := hiddenFields(g.page(b, http.MethodGet, page, nil).body).Get("csrf_token")
	r := g.page(b, http.MethodPost, page+"/delete", url.Values{"csrf_token": {csrf}, "confirm": {"yes"}})
	if r.status != http.StatusSeeOther {
		g.t.Fatalf("portal: delete %s: %d %s", id, r.status, r.body)
	}
}

func TestDeletingAPortalClientInThePortalRevokesItsTokens(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraRoutes: anyTokenRoutes(newUpstream(t))})
	g.addUser("alice", "alice password 1", "--scope", "charts")
	alice := g.browser()
	g.login(alice, "alice", "alice password 1", "")
	secret := g.portalClient(alice, "alice-app")
	cc := g.clientCredentials("alice-app", secret)
	a2a := g.portalA2A(alice, "alice-app")
	if !g.accepted(cc) || !g.accepted(a2a) {
		t.Fatal("the client's tokens are refused before the deletion")
	}

	g.portalDelete(alice, "alice-app")
	// At once: the instance that deleted does not wait for its next poll.
	if g.accepted(cc) {
		t.Error("the deleted client's client_credentials token is still accepted")
	}
	if g.accepted(a2a) {
		t.Error("the deleted client's a2a token is still accepted")
	}

	secret = g.portalClient(alice, "alice-app") // the same id again
	g.freshAccepted("alice-app", secret)
	if g.accepted(cc) || g.accepted(a2a) {
		t.Error("a new client with the same id revived the deleted client's tokens")
	}
}

func TestDeletingAPortalClientWithTheCLIRevokesItsTokens(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraRoutes: anyTokenRoutes(newUpstream(t))})
	g.addUser("alice", "alice password 1", "--scope", "charts")
	alice := g.browser()
	g.login(alice, "alice", "alice password 1", "")
	secret := g.portalClient(alice, "alice-app")
	cc := g.clientCredentials("alice-app", secret)
	a2a := g.portalA2A(alice, "alice-app")
	if !g.accepted(cc) || !g.accepted(a2a) {
		t.Fatal("the client's tokens are refused before the deletion")
	}

	g.cli("", "client", "delete", "alice-app")
	eventually(t, "the deleted client's tokens are refused", func() bool {
		return !g.accepted(cc) && !g.accepted(a2a)
	})

	secret = g.createClient("alice-app", "--owner", "alice", "--grant", "client_credentials")
	g.freshAccepted("alice-app", secret)
	if g.accepted(cc) || g.accepted(a2a) {
		t.Error("a new client with the same id revived the deleted client's tokens")
	}
}

func TestDeletingAUserRevokesTheirTokensAndLogin(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraRoutes: anyTokenRoutes(newUpstream(t))})
	const cb = "https://app.example/cb"
	g.addUser("alice", "alice password 1", "--scope", "charts")
	g.addUser("bob", "bob password 1", "--scope", "charts")
	firstSecret := g.createClient("first", "--first-party", "--grant", "password", "--grant", "refresh_token", "--grant", "a2a", "--scope", "charts")
	webSecret := g.createClient("web", "--grant", "authorization_code", "--redirect-uri", cb, "--scope", "charts")
	password := func(user, pw string) tokenResponse {
		return g.token("first", firstSecret, url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}})
	}

	alicePW := password("alice", "alice password 1")
	bobPW := password("bob", "bob password 1")
	alice := g.browser()
	g.login(alice, "alice", "alice password 1", "")
	code := g.code(alice, "web", cb, "", "charts")
	aliceCode := g.token("web", webSecret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}}).AccessToken
	appSecret := g.portalClient(alice, "alice-app")
	aliceApp := g.clientCredentials("alice-app", appSecret)
	aliceA2A := strings.TrimSpace(g.cli("", "token", "a2a", "--client", "first", "--user", "alice"))
	// Another tenant's alice, and another tenant's client named alice-app.
	ext := g.ext.claims()
	extAlice := g.ext.token(t, ext)
	ext["sub"], ext["client_id"], ext["jti"] = "someone", "alice-app", "ext-2"
	extApp := g.ext.token(t, ext)

	tokens := map[string]string{"alice's password-grant token": alicePW.AccessToken, "alice's code-flow token": aliceCode,
		"alice's client's token": aliceApp, "alice's a2a token": aliceA2A, "bob's token": bobPW.AccessToken,
		"a trusted issuer's alice": extAlice, "a trusted issuer's alice-app": extApp}
	for name, tok := range tokens {
		if !g.accepted(tok) {
			t.Fatalf("%s is refused before the deletion", name)
		}
	}
	if r := g.page(alice, http.MethodGet, "/portal/", nil); r.status != http.StatusOK {
		t.Fatalf("alice's portal page before the deletion: %d", r.status)
	}

	g.cli("", "user", "delete", "alice")
	revoked := []string{"alice's password-grant token", "alice's code-flow token", "alice's client's token", "alice's a2a token"}
	eventually(t, "alice's tokens are refused", func() bool {
		for _, name := range revoked {
			if g.accepted(tokens[name]) {
				return false
			}
		}
		return true
	})
	for _, name := range []string{"bob's token", "a trusted issuer's alice", "a trusted issuer's alice-app"} {
		if !g.accepted(tokens[name]) {
			t.Errorf("%s is refused after alice was deleted", name)
		}
	}
	if status, code := g.tokenError("first", firstSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alicePW.RefreshToken}}); code != "invalid_grant" {
		t.Errorf("alice's refresh token after the deletion: %d %s", status, code)
	}
	loginPage := func(what string) {
		t.Helper()
		r := g.page(alice, http.MethodGet, "/portal/", nil)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/portal/login") {
			t.Errorf("alice's portal cookie %s: %d, Location %q; want the login page", what, r.status, r.header.Get("Location"))
		}
	}
	loginPage("after the deletion")

	// A new alice gets none of it: not the old tokens, not the old login.
	g.addUser("alice", "new alice password", "--scope", "charts")
	loginPage("after a new alice was added")
	if newAlice := password("alice", "new alice password"); !g.accepted(newAlice.AccessToken) {
		t.Error("the new alice's token is refused right after she was added")
	}
	for _, name := range revoked {
		if g.accepted(tokens[name]) {
			t.Errorf("%s is accepted again once a new alice exists", name)
		}
	}
}

// A client deleted and made again in a tight loop, with the portal (the
// deletion takes effect at once) and with the command line (through the
// store, within a second): every incarnation's tokens are accepted as soon
// as it exists, and no earlier incarnation's token is ever accepted again.
// The deletion's cutoff and the next creation often fall in the same
// second, where a cutoff by "iat" could not tell them apart.
func TestClientDeletedAndMadeAgainInALoop(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraRoutes: anyTokenRoutes(newUpstream(t))})
	g.addUser("alice", "alice password 1", "--scope", "charts")
	alice := g.browser()
	g.login(alice, "alice", "alice password 1", "")

	t.Run("portal", func(t *testing.T) {
		var old []string
		for round := range 8 {
			secret := g.portalClient(alice, "loop-app")
			tok := g.freshAccepted("loop-app", secret)
			for i, o := range old {
				if g.accepted(o) {
					t.Fatalf("round %d: the token of incarnation %d is accepted again", round, i)
				}
			}
			g.portalDelete(alice, "loop-app")
			if g.accepted(tok) {
				t.Fatalf("round %d: the deleted client's token is still accepted", round)
			}
			old = append(old, tok)
		}
	})
	t.Run("command line", func(t *testing.T) {
		var old []string
		for range 8 {
			secret := g.createClient("loop-cli", "--owner", "alice", "--grant", "client_credentials")
			old = append(old, g.freshAccepted("loop-cli", secret))
			g.cli("", "client", "delete", "loop-cli")
		}
		secret := g.createClient("loop-cli", "--owner", "alice", "--grant", "client_credentials")
		current := g.freshAccepted("loop-cli", secret)
		eventually(t, "every deleted incarnation's token is refused", func() bool {
			for _, o := range old {
				if g.accepted(o) {
					return false
				}
			}
			return true
		})
		if !g.accepted(current) {
			t.Error("the current incarnation's token is refused once the deletions are known")
		}
	})
}

package issuer_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/clearance-gw/clearance/authz/issuer"
	"github.com/clearance-gw/clearance/authz/revocation"
	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// oauthCtx makes x/oauth2 use the test server's client.
func (fx *fixture) oauthCtx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, fx.ts.Client())
}

func TestClientCredentialsThroughOAuth2(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		for _, style := range []struct {
			name  string
			style oauth2.AuthStyle
		}{{"basic", oauth2.AuthStyleInHeader}, {"body", oauth2.AuthStyleInParams}} {
			t.Run(alg+"/"+style.name, func(t *testing.T) {
				fx := newFixture(t, withConfig(func(c *config.Config) { c.Tokens.Alg = alg }))
				cc := clientcredentials.Config{ClientID: "backend", ClientSecret: backendSecret,
					TokenURL: fx.tokenURL(), AuthStyle: style.style, Scopes: []string{"fmsdata"}}
				tok, err := cc.Token(fx.oauthCtx())
				if err != nil {
					t.Fatal(err)
				}
				if tok.RefreshToken != "" {
					t.Error("client_credentials returned a refresh token")
				}
				if tok.TokenType != "Bearer" || tok.Extra("expires_in") != float64(15*60) {
					t.Errorf("token_type %q, expires_in %v; want Bearer, 900 (the client's access_ttl)", tok.TokenType, tok.Extra("expires_in"))
				}
				if got := tok.Extra("scope"); got != "fmsdata" {
					t.Errorf("response scope = %v, want fmsdata", got)
				}
				at := fx.verify(tok.AccessToken)
				if at.Subject() != "backend" || claim(at, "client_id") != "backend" || claim(at, "scope") != "fmsdata" {
					t.Errorf("sub %q client_id %q scope %q", at.Subject(), claim(at, "client_id"), claim(at, "scope"))
				}
				if !at.Expiration().Equal(t0.Add(15 * time.Minute)) {
					t.Errorf("exp = %v, want %v", at.Expiration(), t0.Add(15*time.Minute))
				}
				if len(at.JwtID()) < 16 {
					t.Errorf("jti %q too short", at.JwtID())
				}
				if _, ok := at.Get("sid"); ok {
					t.Error("a session-less token carries sid")
				}
				if got := counter(t, fx, "clearance_tokens_issued_total", "client_credentials"); got != 1 {
					t.Errorf("clearance_tokens_issued_total{grant=client_credentials} = %v, want 1", got)
				}
			})
		}
	}
}

func TestDefaultScopesAndEachJTIUnique(t *testing.T) {
	fx := newFixture(t)
	cc := clientcredentials.Config{ClientID: "backend", ClientSecret: backendSecret, TokenURL: fx.tokenURL(),
		AuthStyle: oauth2.AuthStyleInHeader}
	seen := map[string]bool{}
	for range 3 {
		tok, err := cc.Token(fx.oauthCtx())
		if err != nil {
			t.Fatal(err)
		}
		at := fx.verify(tok.AccessToken)
		if claim(at, "scope") != "user fmsdata" {
			t.Errorf("scope = %q, want the client's scopes", claim(at, "scope"))
		}
		if seen[at.JwtID()] {
			t.Fatalf("jti %q repeated", at.JwtID())
		}
		seen[at.JwtID()] = true
	}
}

func TestSuccessResponseHeaders(t *testing.T) {
	fx := newFixture(t)
	r := fx.form(url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("backend", backendSecret))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	for k, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, ok := r.body["refresh_token"]; ok {
		t.Error("refresh_token present")
	}
	if r.body["expires_in"] != float64(900) {
		t.Errorf("expires_in = %v", r.body["expires_in"])
	}
}

func TestSecretWithReservedCharacters(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name string
		hdr  []string
		body url.Values
	}{
		{"basic, form-encoded (x/oauth2)", []string{"Authorization", basic("backend", backendSecret)}, nil},
		{"basic, unencoded (authlib)", []string{"Authorization", basicRaw("backend", backendSecret)}, nil},
		{"basic scheme in lower case", []string{"Authorization", strings.Replace(basic("backend", backendSecret), "Basic", "basic", 1)}, nil},
		{"body, form-encoded", nil, url.Values{"client_id": {"backend"}, "client_secret": {backendSecret}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{"grant_type": {"client_credentials"}}
			for k, vs := range tt.body {
				v[k] = vs
			}
			if r := fx.form(v, tt.hdr...); r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
		})
	}
	t.Run("json body", func(t *testing.T) {
		b, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": "backend", "client_secret": backendSecret})
		if r := fx.post("/token", "application/json", string(b)); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})
}

func TestPasswordGrantAndRefreshThroughOAuth2(t *testing.T) {
	fx := newFixture(t)
	oc := oauth2.Config{ClientID: "app", ClientSecret: appSecret, Scopes: []string{"user"},
		Endpoint: oauth2.Endpoint{TokenURL: fx.tokenURL(), AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := oc.PasswordCredentialsToken(fx.oauthCtx(), "alice", alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	at := fx.verify(tok.AccessToken)
	sid := claim(at, "sid")
	if at.Subject() != "alice" || claim(at, "client_id") != "app" || sid == "" {
		t.Fatalf("sub %q client_id %q sid %q", at.Subject(), claim(at, "client_id"), sid)
	}
	if fx.activeSessions() != 1 {
		t.Errorf("active sessions = %d, want 1", fx.activeSessions())
	}

	// Force a refresh through a TokenSource.
	fx.clock.Advance(time.Minute)
	stale := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
	next, err := oc.TokenSource(fx.oauthCtx(), stale).Token()
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate both tokens")
	}
	nat := fx.verify(next.AccessToken)
	if nat.Subject() != "alice" || claim(nat, "sid") != sid || claim(nat, "scope") != "user" {
		t.Errorf("refreshed token: sub %q sid %q scope %q", nat.Subject(), claim(nat, "sid"), claim(nat, "scope"))
	}
	if sgen(at) != store.FirstGeneration || sgen(nat) != store.FirstGeneration+1 {
		t.Errorf("sgen of the first and the refreshed token = %d, %d; want %d, %d", sgen(at), sgen(nat),
			store.FirstGeneration, store.FirstGeneration+1)
	}
	// The access token issued with the old refresh token is refused at once,
	// by its session's generation, without an entry of its own.
	if !tokenRevoked(fx.revs, at) {
		t.Error("the old access token is not revoked")
	}
	if fx.revs.Revoked(at.JwtID(), "") {
		t.Error("the rotation revoked the old token by its jti: one entry per rotation")
	}
	if tokenRevoked(fx.revs, nat) {
		t.Error("the new access token is revoked")
	}
	// ...and other instances learn it from the store.
	other := revocation.New(fx.st, revocation.Options{Now: fx.clock.Now})
	if err := other.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !tokenRevoked(other, at) || tokenRevoked(other, nat) {
		t.Errorf("another instance: old token revoked = %v, new token revoked = %v; want true, false",
			tokenRevoked(other, at), tokenRevoked(other, nat))
	}
	if got := counter(t, fx, "clearance_tokens_issued_total", "refresh_token"); got != 1 {
		t.Errorf("refresh_token issued = %v, want 1", got)
	}
}

func TestJSONBodyCapaStyle(t *testing.T) {
	fx := newFixture(t, withConfig(func(c *config.Config) { c.Endpoints.Token = "/account/token" }))
	body := `{"grant_type":"password","client_id":"app","client_secret":"` + appSecret +
		`","username":"alice","password":"` + alicePassword + `"}`
	r := fx.post("/account/token", "application/json", body)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if r.str("refresh_token") == "" || r.str("token_type") != "Bearer" || r.str("scope") != "user" {
		t.Errorf("response %s", r.raw)
	}
	fx.verify(r.str("access_token"))

	t.Run("scope as an array", func(t *testing.T) {
		body := `{"grant_type":"client_credentials","client_id":"backend","client_secret":"` +
			backendSecret + `","scope":["fmsdata"]}`
		r := fx.post("/account/token", "application/json; charset=utf-8", body)
		if r.status != 200 || r.str("scope") != "fmsdata" {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})
	t.Run("refresh with a JSON body", func(t *testing.T) {
		b, _ := json.Marshal(map[string]string{"grant_type": "refresh_token", "client_id": "app",
			"client_secret": appSecret, "refresh_token": r.str("refresh_token")})
		r2 := fx.post("/account/token", "application/json", string(b))
		if r2.status != 200 || r2.str("refresh_token") == "" {
			t.Fatalf("status %d: %s", r2.status, r2.raw)
		}
	})
}

func TestRefreshWithNarrowerScopeAndOtherClients(t *testing.T) {
	fx := newFixture(t, withConfig(func(c *config.Config) {
		c.Clients[1].Scopes = []string{"user", "fmsdata"}
	}))
	r := fx.form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}},
		"Authorization", basic("app", appSecret))
	if r.status != 200 || r.str("scope") != "user fmsdata" {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	rt := r.str("refresh_token")

	t.Run("wider scope is refused, and the token still works", func(t *testing.T) {
		w := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"user admin"}},
			"Authorization", basic("app", appSecret))
		if w.status != 400 || w.str("error") != "invalid_scope" {
			t.Fatalf("status %d: %s", w.status, w.raw)
		}
	})
	t.Run("another client cannot use it", func(t *testing.T) {
		w := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}},
			"Authorization", basic("third", thirdSecret))
		if w.status != 400 || w.str("error") != "invalid_grant" {
			t.Fatalf("status %d: %s", w.status, w.raw)
		}
	})
	t.Run("narrower scope", func(t *testing.T) {
		n := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"fmsdata"}},
			"Authorization", basic("app", appSecret))
		if n.status != 200 || n.str("scope") != "fmsdata" {
			t.Fatalf("status %d: %s", n.status, n.raw)
		}
		// The session keeps its scope: the next refresh may ask for all of it.
		again := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {n.str("refresh_token")}},
			"Authorization", basic("app", appSecret))
		if again.status != 200 || again.str("scope") != "user fmsdata" {
			t.Fatalf("status %d: %s", again.status, again.raw)
		}
	})
}

func TestRefreshReuseRevokesTheSession(t *testing.T) {
	fx := newFixture(t)
	auth := []string{"Authorization", basic("app", appSecret)}
	first := fx.form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, auth...)
	sid := claim(fx.verify(first.str("access_token")), "sid")
	second := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}, auth...)
	if second.status != 200 {
		t.Fatalf("first refresh: %d %s", second.status, second.raw)
	}
	newJTI := fx.verify(second.str("access_token")).JwtID()

	reuse := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}, auth...)
	if reuse.status != 400 || reuse.str("error") != "invalid_grant" {
		t.Fatalf("reuse: %d %s", reuse.status, reuse.raw)
	}
	if !fx.revs.Revoked(newJTI, sid) {
		t.Error("the session's current access token still passes the revocation set")
	}
	// The newest refresh token dies with the session.
	after := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.str("refresh_token")}}, auth...)
	if after.status != 400 || after.str("error") != "invalid_grant" {
		t.Fatalf("refresh after reuse: %d %s", after.status, after.raw)
	}
	if fx.activeSessions() != 0 {
		t.Errorf("active sessions = %d, want 0", fx.activeSessions())
	}
	if !strings.Contains(fx.logs.String(), "refresh token reused") {
		t.Error("reuse was not logged")
	}
}

func TestConcurrentRefreshesExactlyOneWins(t *testing.T) {
	fx := newFixture(t)
	auth := []string{"Authorization", basic("app", appSecret)}
	first := fx.form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, auth...)
	const n = 2
	results := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}, auth...)
		})
	}
	close(start)
	wg.Wait()
	var ok, refused int
	for _, r := range results {
		switch {
		case r.status == 200:
			ok++
		case r.status == 400 && r.str("error") == "invalid_grant":
			refused++
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
		}
	}
	if ok != 1 || refused != n-1 {
		t.Fatalf("%d succeeded and %d were refused, want exactly one winner", ok, refused)
	}
}

func TestA2AGrant(t *testing.T) {
	fx := newFixture(t)
	r := fx.form(url.Values{"grant_type": {"a2a"}, "username": {"alice"}, "password": {alicePassword}},
		"Authorization", basic("app", appSecret))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if _, ok := r.body["refresh_token"]; ok {
		t.Error("a2a returned a refresh token")
	}
	if r.body["expires_in"] != float64(8760*3600) {
		t.Errorf("expires_in = %v, want one year", r.body["expires_in"])
	}
	at := fx.verify(r.str("access_token"))
	if !at.Expiration().Equal(t0.Add(8760*time.Hour)) || at.Subject() != "alice" {
		t.Errorf("exp %v sub %q", at.Expiration(), at.Subject())
	}
	sessions, err := fx.st.ListSessions(context.Background(), "app", fx.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].Kind != store.KindA2A || sessions[0].ID != claim(at, "sid") {
		t.Fatalf("sessions = %+v, want one a2a session named by sid", sessions)
	}
}

func TestMintA2A(t *testing.T) {
	fx := newFixture(t)
	// "third" has the a2a grant but is not first-party: the command line
	// and the portal mint for it, the token endpoint does not.
	tok, err := fx.srv.MintA2A(context.Background(), "third", "alice", "portal")
	if err != nil {
		t.Fatal(err)
	}
	at := fx.verify(tok.AccessToken)
	if at.Subject() != "alice" || claim(at, "client_id") != "third" || claim(at, "sid") != tok.SessionID ||
		!tok.ExpiresAt.Equal(t0.Add(8760*time.Hour)) || tok.Scope != "user" {
		t.Errorf("token %+v, claims sub %q client_id %q", tok, at.Subject(), claim(at, "client_id"))
	}
	if logs := fx.logs.String(); !strings.Contains(logs, "grant=a2a client_id=third") || !strings.Contains(logs, "via=portal") {
		t.Errorf("the token is not logged with its caller:\n%s", logs)
	}
	for _, tt := range []struct{ client, user string }{{"nope", "alice"}, {"third", "nobody"}} {
		if _, err := fx.srv.MintA2A(context.Background(), tt.client, tt.user, "cli"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MintA2A(%q, %q) = %v, want ErrNotFound", tt.client, tt.user, err)
		}
	}
}

// TestA2AOnlyForClientsWithTheGrant: an a2a token is only ever made for a
// client that has the a2a grant enabled, whoever asks; the token endpoint
// also requires a first-party client.
func TestA2AOnlyForClientsWithTheGrant(t *testing.T) {
	fx := newFixture(t)
	before := fx.activeSessions()
	_, err := fx.srv.MintA2A(context.Background(), "backend", "alice", "cli")
	e, ok := errors.AsType[*issuer.A2ANotEnabledError](err)
	if !ok || e.ClientID != "backend" || !slices.Equal(e.Grants, []string{"client_credentials"}) {
		t.Fatalf("MintA2A for a client without the grant = %#v, want *A2ANotEnabledError", err)
	}
	if got := fx.activeSessions(); got != before {
		t.Errorf("sessions %d -> %d: a refused mint made a session", before, got)
	}

	a2a := url.Values{"grant_type": {"a2a"}, "username": {"alice"}, "password": {alicePassword}}
	r := fx.form(a2a, "Authorization", basic("backend", backendSecret))
	if r.status != 400 || r.str("error") != "unauthorized_client" || !strings.Contains(r.str("error_description"), "not enabled") {
		t.Errorf("token endpoint, no a2a grant: %d %s", r.status, r.raw)
	}
	r = fx.form(a2a, "Authorization", basic("third", thirdSecret))
	if r.status != 400 || r.str("error") != "unauthorized_client" || !strings.Contains(r.str("error_description"), "first-party") {
		t.Errorf("token endpoint, a2a grant on a third-party client: %d %s", r.status, r.raw)
	}
}

func TestAdminGrant(t *testing.T) {
	fx := newFixture(t)
	auth := []string{"Authorization", basic("app", appSecret)}
	r := fx.form(url.Values{"grant_type": {"admin"}, "username": {"root"}, "password": {rootPassword}, "subject": {"alice"}}, auth...)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	at := fx.verify(r.str("access_token"))
	act, _ := at.Get("act")
	if m, _ := act.(map[string]any); at.Subject() != "alice" || m["sub"] != "root" {
		t.Errorf("sub %q act %v, want alice acted on by root", at.Subject(), act)
	}
	logs := fx.logs.String()
	if !strings.Contains(logs, "admin token issued") || !strings.Contains(logs, "admin=root") || !strings.Contains(logs, "subject=alice") {
		t.Errorf("no audit line in logs:\n%s", logs)
	}
	// The token endpoint's own line names the administrator too.
	if !regexp.MustCompile(`msg="token issued" component=issuer grant=admin client_id=app admin=root sub=alice .*via=token_endpoint`).MatchString(logs) {
		t.Errorf("the token issued line does not name the administrator:\n%s", logs)
	}

	tests := []struct {
		name string
		v    url.Values
		code string
	}{
		{"not an administrator", url.Values{"username": {"alice"}, "password": {alicePassword}, "subject": {"root"}}, "invalid_grant"},
		{"unknown subject", url.Values{"username": {"root"}, "password": {rootPassword}, "subject": {"nobody"}}, "invalid_grant"},
		{"wrong password", url.Values{"username": {"root"}, "password": {"x"}, "subject": {"alice"}}, "invalid_grant"},
		{"no subject", url.Values{"username": {"root"}, "password": {rootPassword}}, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.v.Set("grant_type", "admin")
			if r := fx.form(tt.v, auth...); r.str("error") != tt.code {
				t.Fatalf("status %d: %s, want %s", r.status, r.raw, tt.code)
			}
		})
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	fx := newFixture(t)
	auth := []string{"Authorization", basic("app", appSecret)}
	var tokens []string
	for _, v := range []url.Values{
		{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}},
		{"grant_type": {"admin"}, "username": {"root"}, "password": {rootPassword}, "subject": {"alice"}},
		{"grant_type": {"a2a"}, "username": {"alice"}, "password": {alicePassword}},
		{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-" + alicePassword}},
	} {
		r := fx.form(v, auth...)
		tokens = append(tokens, r.str("access_token"), r.str("refresh_token"))
	}
	logs := fx.logs.String()
	if !strings.Contains(logs, "token issued") {
		t.Fatal("no log lines")
	}
	for _, s := range append(tokens, appSecret, alicePassword, rootPassword, backendSecret) {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("a secret or token appears in the logs: %.12s...", s)
		}
	}
}

func TestRefreshOnEveryGrant(t *testing.T) {
	fx := newFixture(t, withConfig(func(c *config.Config) {
		c.Tokens.RefreshOnEveryGrant = true
		c.Clients[0].Grants = append(c.Clients[0].Grants, "refresh_token")
	}))
	r := fx.form(url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("backend", backendSecret))
	if r.status != 200 || r.str("refresh_token") == "" {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	at := fx.verify(r.str("access_token"))
	if claim(at, "sid") == "" {
		t.Error("no sid on a token with a refresh token")
	}
	n := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}},
		"Authorization", basic("backend", backendSecret))
	if n.status != 200 || fx.verify(n.str("access_token")).Subject() != "backend" {
		t.Fatalf("refresh: %d %s", n.status, n.raw)
	}
}

func pkce(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestAuthorizationCodeExchange(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	newCode := func(client, redirect, challenge string) string {
		code, _ := secret.NewToken()
		c := store.AuthCode{Hash: secret.HashSecret(code), ClientID: client, Subject: "alice", RedirectURI: redirect,
			Scope: "user", SessionID: "sess-" + code[:8], CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
		if challenge != "" {
			c.CodeChallenge, c.CodeChallengeMethod = challenge, "S256"
		}
		if err := fx.st.CreateCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		return code
	}
	const verifier = "a-very-long-code-verifier-of-at-least-43-characters-0123456789"

	t.Run("public client with PKCE through x/oauth2", func(t *testing.T) {
		oc := oauth2.Config{ClientID: "spa", RedirectURL: "https://spa.example/cb",
			Endpoint: oauth2.Endpoint{TokenURL: fx.tokenURL(), AuthStyle: oauth2.AuthStyleInParams}}
		code := newCode("spa", "https://spa.example/cb", pkce(verifier))
		tok, err := oc.Exchange(fx.oauthCtx(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		at := fx.verify(tok.AccessToken)
		if at.Subject() != "alice" || tok.RefreshToken == "" || claim(at, "sid") != "sess-"+code[:8] {
			t.Fatalf("sub %q sid %q refresh %v", at.Subject(), claim(at, "sid"), tok.RefreshToken != "")
		}
		// Public clients refresh with their id alone.
		n := fx.form(url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {tok.RefreshToken}})
		if n.status != 200 {
			t.Fatalf("public refresh: %d %s", n.status, n.raw)
		}
		// A replayed code revokes what was issued with it.
		replay := fx.form(url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {code},
			"redirect_uri": {"https://spa.example/cb"}, "code_verifier": {verifier}})
		if replay.str("error") != "invalid_grant" {
			t.Fatalf("replay: %d %s", replay.status, replay.raw)
		}
		if !fx.revs.Revoked("", claim(at, "sid")) {
			t.Error("the replayed code's session is not revoked")
		}
	})

	auth := []string{"Authorization", basic("app", appSecret)}
	tests := []struct {
		name      string
		client    string
		challenge string
		v         url.Values
		hdr       []string
		want      string
	}{
		{"confidential client without PKCE", "app", "", url.Values{"redirect_uri": {"https://app.example/cb"}}, auth, ""},
		{"wrong verifier", "app", pkce(verifier), url.Values{"redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier + "x"}}, auth, "invalid_grant"},
		{"missing verifier", "app", pkce(verifier), url.Values{"redirect_uri": {"https://app.example/cb"}}, auth, "invalid_grant"},
		{"redirect_uri differs", "app", "", url.Values{"redirect_uri": {"https://evil.example/cb"}}, auth, "invalid_grant"},
		{"public client without PKCE", "spa", "", url.Values{"redirect_uri": {"https://spa.example/cb"}, "client_id": {"spa"}}, nil, "invalid_grant"},
		{"code of another client", "spa", pkce(verifier), url.Values{"redirect_uri": {"https://spa.example/cb"}, "code_verifier": {verifier}}, auth, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redirect := tt.v.Get("redirect_uri")
			if tt.name == "redirect_uri differs" {
				redirect = "https://app.example/cb"
			}
			tt.v.Set("code", newCode(tt.client, redirect, tt.challenge))
			tt.v.Set("grant_type", "authorization_code")
			r := fx.form(tt.v, tt.hdr...)
			if tt.want == "" && r.status != 200 || tt.want != "" && r.str("error") != tt.want {
				t.Fatalf("status %d: %s, want %q", r.status, r.raw, tt.want)
			}
		})
	}
	t.Run("a code presented by another client stays usable by its own", func(t *testing.T) {
		code := newCode("spa", "https://spa.example/cb", pkce(verifier))
		v := url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {"https://spa.example/cb"}, "code_verifier": {verifier}}
		if r := fx.form(v, auth...); r.str("error") != "invalid_grant" {
			t.Fatalf("another client: %d %s", r.status, r.raw)
		}
		if fx.revs.Revoked("", "sess-"+code[:8]) {
			t.Fatal("another client's attempt revoked the code's session")
		}
		v.Set("client_id", "spa")
		r := fx.form(v)
		if r.status != 200 {
			t.Fatalf("its own client after the theft: %d %s", r.status, r.raw)
		}
		if at := fx.verify(r.str("access_token")); claim(at, "sid") != "sess-"+code[:8] {
			t.Fatalf("sid %q", claim(at, "sid"))
		}
	})
	// A mismatch by the code's own client burns the code (see codeGrant):
	// the right verifier and redirect URI afterwards are a replay.
	for _, tt := range []struct {
		name string
		bad  url.Values
	}{
		{"a wrong verifier by its own client burns the code", url.Values{"redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier + "x"}}},
		{"a wrong redirect_uri by its own client burns the code", url.Values{"redirect_uri": {"https://app.example/other"}, "code_verifier": {verifier}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code := newCode("app", "https://app.example/cb", pkce(verifier))
			tt.bad.Set("grant_type", "authorization_code")
			tt.bad.Set("code", code)
			if r := fx.form(tt.bad, auth...); r.str("error") != "invalid_grant" {
				t.Fatalf("mismatch: %d %s", r.status, r.raw)
			}
			good := url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier}}
			if r := fx.form(good, auth...); r.str("error") != "invalid_grant" {
				t.Fatalf("the code was not burnt: %d %s", r.status, r.raw)
			}
			if !fx.revs.Revoked("", "sess-"+code[:8]) {
				t.Error("the session of the burnt code is not revoked")
			}
		})
	}
	t.Run("unknown code", func(t *testing.T) {
		r := fx.form(url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}}, auth...)
		if r.str("error") != "invalid_grant" {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})
}

func TestMetricsCountErrorsByCode(t *testing.T) {
	fx := newFixture(t)
	fx.form(url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("backend", "wrong"))
	fx.form(url.Values{"grant_type": {"nope"}}, "Authorization", basic("backend", backendSecret))
	fx.form(url.Values{"grant_type": {"nope"}}, "Authorization", basic("backend", backendSecret))
	mfs, err := fx.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "clearance_token_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got["invalid_client"] != 1 || got["unsupported_grant_type"] != 2 || got["invalid_grant"] != 0 {
		t.Errorf("errors by code = %v", got)
	}
	if _, ok := got["invalid_scope"]; !ok {
		t.Error("error codes are not pre-initialised")
	}
}

func TestActiveSessionsGauge(t *testing.T) {
	fx := newFixture(t)
	for range 2 {
		fx.form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}},
			"Authorization", basic("app", appSecret))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { fx.srv.Run(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for gauge(t, fx, "clearance_active_sessions") != 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := gauge(t, fx, "clearance_active_sessions"); got != 2 {
		t.Fatalf("clearance_active_sessions = %v, want 2", got)
	}
}

func gauge(t *testing.T, fx *fixture, name string) float64 {
	mfs, err := fx.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// counter returns the value of the counter name with one label value.
func counter(t *testing.T, fx *fixture, name, label string) float64 {
	t.Helper()
	mfs, err := fx.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func TestGrantTypes(t *testing.T) {
	fx := newFixture(t)
	want := []string{"a2a", "admin", "authorization_code", "client_credentials", "password", "refresh_token"}
	if got := fx.srv.GrantTypes(); !slices.Equal(got, want) {
		t.Errorf("GrantTypes = %v, want %v", got, want)
	}
	if r := fx.srv.Routes(); len(r) != 5 || r[0].Pattern != "/token" {
		t.Errorf("Routes = %+v", r)
	}
}

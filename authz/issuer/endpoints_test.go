package issuer_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/clearance-gw/clearance/config"
)

func TestDiscovery(t *testing.T) {
	fx := newFixture(t, withConfig(func(c *config.Config) { c.Endpoints.Token = "/account/token" }))
	resp, err := fx.ts.Client().Get(fx.ts.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"issuer":                 "https://gw.example",
		"token_endpoint":         "https://gw.example/account/token",
		"authorization_endpoint": "https://gw.example/authorize",
		"jwks_uri":               "https://gw.example/.well-known/jwks.json",
		"revocation_endpoint":    "https://gw.example/revoke",
		"introspection_endpoint": "https://gw.example/introspect",
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("%s = %v, want %s", k, md[k], v)
		}
	}
	lists := map[string][]string{
		"response_types_supported":              {"code", "token"},
		"code_challenge_methods_supported":      {"S256"},
		"scopes_supported":                      {"user", "fmsdata"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "none"},
		"grant_types_supported":                 {"a2a", "admin", "authorization_code", "client_credentials", "password", "refresh_token", "implicit"},
	}
	for k, v := range lists {
		var got []string
		for _, x := range md[k].([]any) {
			got = append(got, x.(string))
		}
		if !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}

	resp, err = fx.ts.Client().Get(fx.ts.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	set, err := jwk.Parse(b)
	if err != nil || set.Len() != 1 {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	k, _ := set.Key(0)
	if k.KeyID() != fx.keys.SigningKeyID() || k.Algorithm().String() != "ES256" || k.KeyUsage() != "sig" || isPrivate(k) {
		t.Errorf("published key %s", b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("JWKS Cache-Control = %q", cc)
	}

	r := fx.post("/.well-known/jwks.json", "", "")
	if r.status != 405 || r.str("error") != "invalid_request" {
		t.Errorf("POST JWKS: %d %s", r.status, r.raw)
	}
}

func (fx *fixture) passwordTokens(client, secret string) response {
	fx.t.Helper()
	r := fx.form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}},
		"Authorization", basic(client, secret))
	if r.status != 200 {
		fx.t.Fatalf("password grant: %d %s", r.status, r.raw)
	}
	return r
}

func (fx *fixture) endpoint(path string, v url.Values, client, secret string) response {
	fx.t.Helper()
	return fx.post(path, "application/x-www-form-urlencoded", v.Encode(), "Authorization", basic(client, secret))
}

func TestRevokeRefreshTokenRevokesTheSession(t *testing.T) {
	fx := newFixture(t)
	tok := fx.passwordTokens("app", appSecret)
	at := fx.verify(tok.str("access_token"))
	for _, hint := range []string{"refresh_token", ""} {
		r := fx.endpoint("/revoke", url.Values{"token": {tok.str("refresh_token")}, "token_type_hint": {hint}}, "app", appSecret)
		if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("revoke (hint %q): %d %s", hint, r.status, r.raw)
		}
	}
	if !fx.revs.Revoked(at.JwtID(), claim(at, "sid")) {
		t.Error("the session's access token still passes")
	}
	n := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}},
		"Authorization", basic("app", appSecret))
	if n.str("error") != "invalid_grant" {
		t.Errorf("refresh after revoke: %d %s", n.status, n.raw)
	}
	if fx.activeSessions() != 0 {
		t.Error("session still active")
	}
}

func TestRevokeAccessToken(t *testing.T) {
	fx := newFixture(t)
	r := fx.form(url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("backend", backendSecret))
	at := fx.verify(r.str("access_token"))

	other := fx.endpoint("/revoke", url.Values{"token": {r.str("access_token")}}, "app", appSecret)
	if other.status != 400 || other.str("error") != "unauthorized_client" {
		t.Errorf("another client's revoke: %d %s", other.status, other.raw)
	}
	if fx.revs.Revoked(at.JwtID(), "") {
		t.Fatal("another client revoked the token")
	}
	// A wrong hint does not stop the search.
	ok := fx.endpoint("/revoke", url.Values{"token": {r.str("access_token")}, "token_type_hint": {"refresh_token"}}, "backend", backendSecret)
	if ok.status != 200 || !fx.revs.Revoked(at.JwtID(), "") {
		t.Fatalf("revoke: %d %s, revoked %v", ok.status, ok.raw, fx.revs.Revoked(at.JwtID(), ""))
	}
	// Another instance learns it from the store.
	fx.restart()
	if !fx.revs.Revoked(at.JwtID(), "") {
		t.Error("revocation not in the store")
	}
}

func TestRevokeA2ATokenEndsItsSession(t *testing.T) {
	fx := newFixture(t)
	tok, err := fx.srv.MintA2A(context.Background(), "app", "alice", "cli")
	if err != nil {
		t.Fatal(err)
	}
	r := fx.endpoint("/revoke", url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, "app", appSecret)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if fx.activeSessions() != 0 || !fx.revs.Revoked("", tok.SessionID) {
		t.Error("the a2a session is still listed")
	}
}

func TestRevokeEdgeCases(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name         string
		v            url.Values
		client, secr string
		status       int
		code         string
	}{
		{"unknown token", url.Values{"token": {"no-such-token"}}, "app", appSecret, 200, ""},
		{"forged jwt", url.Values{"token": {"eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0."}}, "app", appSecret, 200, ""},
		{"no token", url.Values{}, "app", appSecret, 400, "invalid_request"},
		{"wrong secret", url.Values{"token": {"x"}}, "app", "nope", 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.endpoint("/revoke", tt.v, tt.client, tt.secr)
			if r.status != tt.status || r.str("error") != tt.code {
				t.Fatalf("%d %s, want %d %q", r.status, r.raw, tt.status, tt.code)
			}
		})
	}
	t.Run("public client revokes its own refresh token", func(t *testing.T) {
		r := fx.post("/revoke", "application/x-www-form-urlencoded", url.Values{"token": {"x"}, "client_id": {"spa"}}.Encode())
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := fx.ts.Client().Get(fx.ts.URL + "/revoke")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestIntrospect(t *testing.T) {
	fx := newFixture(t)
	tok := fx.passwordTokens("app", appSecret)
	at := fx.verify(tok.str("access_token"))
	introspect := func(token, hint string) response {
		t.Helper()
		r := fx.endpoint("/introspect", url.Values{"token": {token}, "token_type_hint": {hint}}, "app", appSecret)
		if r.status != 200 {
			t.Fatalf("introspect: %d %s", r.status, r.raw)
		}
		return r
	}
	t.Run("another client learns nothing", func(t *testing.T) {
		for _, token := range []string{tok.str("access_token"), tok.str("refresh_token")} {
			r := fx.endpoint("/introspect", url.Values{"token": {token}}, "backend", backendSecret)
			if r.status != 200 || r.raw != "{\"active\":false}\n" {
				t.Errorf("backend introspecting app's token: %d %s", r.status, r.raw)
			}
		}
	})

	r := introspect(tok.str("access_token"), "")
	if r.body["active"] != true || r.str("sub") != "alice" || r.str("client_id") != "app" || r.str("scope") != "user" ||
		r.str("jti") != at.JwtID() || r.str("sid") != claim(at, "sid") || r.str("token_type") != "Bearer" ||
		r.body["exp"] != float64(at.Expiration().Unix()) || r.str("iss") != "https://gw.example" || r.str("username") != "alice" {
		t.Errorf("access token introspection %s", r.raw)
	}
	r = introspect(tok.str("refresh_token"), "refresh_token")
	if r.body["active"] != true || r.str("token_type") != "refresh_token" || r.str("sub") != "alice" ||
		r.body["exp"] != float64(t0.Add(720*time.Hour).Unix()) {
		t.Errorf("refresh token introspection %s", r.raw)
	}
	if introspect("garbage", "").raw != "{\"active\":false}\n" {
		t.Error("unknown token is not exactly {\"active\":false}")
	}

	// Admin tokens name the actor.
	adm := fx.form(url.Values{"grant_type": {"admin"}, "username": {"root"}, "password": {rootPassword}, "subject": {"alice"}},
		"Authorization", basic("app", appSecret))
	if r := introspect(adm.str("access_token"), ""); r.body["act"].(map[string]any)["sub"] != "root" {
		t.Errorf("admin token introspection %s", r.raw)
	}

	// Expiry by the clock: exp-1s active, exp inactive.
	fx.clock.Advance(time.Hour - time.Second)
	if introspect(tok.str("access_token"), "").body["active"] != true {
		t.Error("inactive one second before exp")
	}
	fx.clock.Advance(time.Second)
	if introspect(tok.str("access_token"), "").body["active"] != false {
		t.Error("active at exp")
	}
	if introspect(tok.str("refresh_token"), "").body["active"] != true {
		t.Error("refresh token inactive while the access token expired")
	}

	// Revoking the session makes both inactive.
	fx.endpoint("/revoke", url.Values{"token": {tok.str("refresh_token")}}, "app", appSecret)
	fx.clock.Advance(-time.Minute)
	if introspect(tok.str("access_token"), "").body["active"] != false || introspect(tok.str("refresh_token"), "").body["active"] != false {
		t.Error("revoked tokens are active")
	}

	t.Run("public clients may not introspect", func(t *testing.T) {
		r := fx.post("/introspect", "application/x-www-form-urlencoded", url.Values{"token": {"x"}, "client_id": {"spa"}}.Encode())
		if r.status != 401 || r.str("error") != "invalid_client" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
}

package issuer_test

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

const portalSecret = "portal-client-secret"

// entitledFixture has a portal client of alice ("alice-app") holding every
// scope, as clients made in the portal before entitlements did, and an
// operator's client she owns ("alice-ops"). portal.scopes is [user]; alice
// is entitled to fmsdata too, never to manage_users.
func entitledFixture(t *testing.T) *fixture {
	t.Helper()
	fx := newFixture(t, withConfig(func(c *config.Config) {
		c.Scopes = []string{"user", "fmsdata", "manage_users"}
		c.Portal.Scopes = []string{"user"}
	}))
	ctx := context.Background()
	alice, err := fx.st.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	alice.Scopes = []string{"fmsdata"}
	if err := fx.st.UpdateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	all := []string{"manage_users", "user", "fmsdata"}
	grants := []string{"client_credentials", "password", "refresh_token", "a2a", "admin", "authorization_code"}
	for _, c := range []store.Client{
		// First-party only so every grant can be tried; the portal makes
		// third-party clients.
		{ID: "alice-app", Name: "Alice's app", Owner: "alice", PortalMade: true, FirstParty: true, Grants: grants, Scopes: all,
			RedirectURIs: []string{"https://alice.example/cb"}},
		{ID: "alice-ops", Name: "Made for alice", Owner: "alice", Grants: grants, FirstParty: true, Scopes: all},
	} {
		c.SecretHash, c.CreatedAt = secret.HashSecret(portalSecret), t0
		if err := fx.st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

// entitle sets alice's own scopes, as "clearance user update" does.
func (fx *fixture) entitle(scopes ...string) {
	fx.t.Helper()
	ctx := context.Background()
	u, err := fx.st.GetUser(ctx, "alice")
	if err != nil {
		fx.t.Fatal(err)
	}
	u.Scopes = scopes
	if err := fx.st.UpdateUser(ctx, u); err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) grant(client string, v url.Values) response {
	fx.t.Helper()
	return fx.form(v, "Authorization", basic(client, portalSecret))
}

func wantScope(t *testing.T, fx *fixture, r response, scope string) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s, want a token with scope %q", r.status, r.raw, scope)
	}
	if r.str("scope") != scope {
		t.Errorf("response scope %q, want %q", r.str("scope"), scope)
	}
	if got := claim(fx.verify(r.str("access_token")), "scope"); got != scope {
		t.Errorf("token scope %q, want %q", got, scope)
	}
}

func wantInvalidScope(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status || r.str("error") != "invalid_scope" {
		t.Fatalf("status %d: %s, want %d invalid_scope", r.status, r.raw, status)
	}
}

func TestPortalClientGetsOnlyEntitledScopes(t *testing.T) {
	fx := entitledFixture(t)
	password := url.Values{"username": {"alice"}, "password": {alicePassword}}
	grants := map[string]url.Values{
		"client_credentials": {},
		"password":           password,
		"a2a":                password,
		"admin":              {"username": {"root"}, "password": {rootPassword}, "subject": {"alice"}},
	}
	for grant, base := range grants {
		t.Run(grant, func(t *testing.T) {
			v := url.Values{"grant_type": {grant}}
			for k, vs := range base {
				v[k] = vs
			}
			wantScope(t, fx, fx.grant("alice-app", v), "user fmsdata")
			v.Set("scope", "user manage_users")
			wantInvalidScope(t, fx.grant("alice-app", v), 400)
			v.Set("scope", "fmsdata")
			wantScope(t, fx, fx.grant("alice-app", v), "fmsdata")
			// The operator's client is not limited, though alice owns it.
			v.Del("scope")
			wantScope(t, fx, fx.grant("alice-ops", v), "manage_users user fmsdata")
		})
	}
}

func TestInvalidScopeStatusOfTheProfile(t *testing.T) {
	fx := entitledFixture(t)
	cfg := *fx.cfg
	cfg.Tokens.InvalidScopeStatus = 401
	fx.srv.Update(&cfg)
	wantInvalidScope(t, fx.grant("alice-app", url.Values{"grant_type": {"client_credentials"}, "scope": {"manage_users"}}), 401)
}

func TestShrunkEntitlementAppliesAtTheNextIssuance(t *testing.T) {
	fx := entitledFixture(t)
	r := fx.grant("alice-app", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}})
	wantScope(t, fx, r, "user fmsdata")
	refresh := r.str("refresh_token")

	fx.entitle() // alice loses fmsdata
	fx.clock.Advance(time.Second)
	wantScope(t, fx, fx.grant("alice-app", url.Values{"grant_type": {"client_credentials"}}), "user")
	wantInvalidScope(t, fx.grant("alice-app", url.Values{"grant_type": {"client_credentials"}, "scope": {"fmsdata"}}), 400)
	// A refresh asking for the lost scope is refused and leaves the
	// refresh token usable; one asking for nothing drops it.
	wantInvalidScope(t, fx.grant("alice-app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh},
		"scope": {"user fmsdata"}}), 400)
	r = fx.grant("alice-app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	wantScope(t, fx, r, "user")
	refresh = r.str("refresh_token")
	if tok, err := fx.srv.MintA2A(context.Background(), "alice-app", "alice", "cli"); err != nil || tok.Scope != "user" {
		t.Errorf("MintA2A = %+v, %v; want scope user", tok, err)
	}

	t.Run("nothing left is invalid_scope", func(t *testing.T) {
		cfg := *fx.cfg
		cfg.Portal.Scopes = nil // reloaded without portal scopes
		fx.srv.Update(&cfg)
		t.Cleanup(func() { fx.srv.Update(fx.cfg) })
		wantInvalidScope(t, fx.grant("alice-app", url.Values{"grant_type": {"client_credentials"}}), 400)
		wantInvalidScope(t, fx.grant("alice-app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}), 400)
		if _, err := fx.srv.MintA2A(context.Background(), "alice-app", "alice", "cli"); err == nil {
			t.Error("MintA2A minted a token with no entitled scope")
		}
		if _, _, err := fx.srv.MintImplicit(context.Background(), "alice-app", "alice", ""); err == nil {
			t.Error("MintImplicit minted a token with no entitled scope")
		}
	})

	t.Run("growing it back restores the scope", func(t *testing.T) {
		fx.entitle("fmsdata")
		wantScope(t, fx, fx.grant("alice-app", url.Values{"grant_type": {"client_credentials"}}), "user fmsdata")
	})
}

func TestCodeExchangeDropsScopesNoLongerEntitled(t *testing.T) {
	fx := entitledFixture(t)
	ctx := context.Background()
	newCode := func(scope string) string {
		code, _ := secret.NewToken()
		if err := fx.st.CreateCode(ctx, store.AuthCode{Hash: secret.HashSecret(code), ClientID: "alice-app", Subject: "alice",
			Scope: scope, SessionID: "sess-" + code[:8], CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		return code
	}
	exchange := func(code string) response {
		return fx.grant("alice-app", url.Values{"grant_type": {"authorization_code"}, "code": {code}})
	}
	wantScope(t, fx, exchange(newCode("user manage_users fmsdata")), "user fmsdata")
	wantInvalidScope(t, exchange(newCode("manage_users")), 400)
}

func TestMintImplicitChecksTheScope(t *testing.T) {
	fx := entitledFixture(t)
	ctx := context.Background()
	if _, _, err := fx.srv.MintImplicit(ctx, "alice-app", "alice", "user manage_users"); err == nil {
		t.Fatal("MintImplicit minted manage_users for a portal client")
	}
	tok, _, err := fx.srv.MintImplicit(ctx, "alice-app", "alice", "fmsdata")
	if err != nil {
		t.Fatal(err)
	}
	if got := claim(fx.verify(tok), "scope"); got != "fmsdata" {
		t.Errorf("implicit token scope %q, want fmsdata", got)
	}
	tok, _, err = fx.srv.MintImplicit(ctx, "alice-ops", "alice", "manage_users")
	if err != nil {
		t.Fatal(err)
	}
	if got := claim(fx.verify(tok), "scope"); got != "manage_users" {
		t.Errorf("operator client's implicit token scope %q, want manage_users", got)
	}
}

func TestEntitledAndClientScopes(t *testing.T) {
	fx := entitledFixture(t)
	ctx := context.Background()
	got, err := fx.srv.Entitled(ctx, "alice")
	if err != nil || !slices.Equal(got, []string{"user", "fmsdata"}) {
		t.Errorf("Entitled(alice) = %q, %v", got, err)
	}
	if got, err := fx.srv.Entitled(ctx, "nobody"); err != nil || !slices.Equal(got, []string{"user"}) {
		t.Errorf("Entitled(nobody) = %q, %v; want portal.scopes", got, err)
	}
	c, err := fx.st.GetClient(ctx, "alice-app")
	if err != nil {
		t.Fatal(err)
	}
	if got, limited, err := fx.srv.ClientScopes(ctx, c); err != nil || !limited || !slices.Equal(got, []string{"user", "fmsdata"}) {
		t.Errorf("ClientScopes(alice-app) = %q, %v, %v", got, limited, err)
	}
}

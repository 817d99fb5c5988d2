package issuer_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/revocation"
	"github.com/clearance-gw/clearance/config"
)

// The guard reads the same revocation set the issuer writes.
var _ guard.Revocations = (*revocation.Set)(nil)

// TestGuardTrustsOwnTokensAndRefusesRevokedOnes wires the issuer to the
// real guard as the gateway does (keys through OnChange, revocations
// through the shared set) and checks tokens at the proxy's door.
func TestGuardTrustsOwnTokensAndRefusesRevokedOnes(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			fx := newFixture(t, withConfig(func(c *config.Config) { c.Tokens.Alg = alg }))
			gd, err := guard.NewGuard(t.Context(), fx.cfg, guard.Options{Now: fx.clock.Now, Revocations: fx.revs})
			if err != nil {
				t.Fatal(err)
			}
			var setErr error
			fx.keys.OnChange(func(s jwk.Set) { setErr = gd.SetLocalKeys(s) })
			if setErr != nil {
				t.Fatal(setErr)
			}
			route := &config.Route{Name: "api", Path: "/api/", Scopes: []string{"user"}, InsufficientScopeStatus: 401}
			check := func(tok string) error {
				r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				_, err := gd.Check(r, route)
				return err
			}

			auth := []string{"Authorization", basic("app", appSecret)}
			first := fx.form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, auth...)
			if err := check(first.str("access_token")); err != nil {
				t.Fatalf("guard refused a fresh token: %v", err)
			}
			// Rotation: the old access token is refused at once, the new one passes.
			second := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}, auth...)
			if err := check(first.str("access_token")); !errors.Is(err, guard.ErrInvalidToken) {
				t.Errorf("old access token after rotation: %v, want invalid_token", err)
			}
			if err := check(second.str("access_token")); err != nil {
				t.Errorf("new access token: %v", err)
			}
			// Key rotation: the guard trusts the new key at once, and still the old one.
			cc := fx.form(url.Values{"grant_type": {"client_credentials"}}, auth...)
			if err := fx.keys.Rotate(context.Background()); err != nil {
				t.Fatal(err)
			}
			after := fx.form(url.Values{"grant_type": {"client_credentials"}}, auth...)
			for name, tok := range map[string]string{"before rotation": cc.str("access_token"), "after rotation": after.str("access_token")} {
				if err := check(tok); err != nil {
					t.Errorf("token signed %s: %v", name, err)
				}
			}
			// Revoking the session ends the refreshed token too.
			fx.endpoint("/revoke", url.Values{"token": {second.str("refresh_token")}}, "app", appSecret)
			if err := check(second.str("access_token")); !errors.Is(err, guard.ErrInvalidToken) {
				t.Errorf("token of a revoked session: %v, want invalid_token", err)
			}
		})
	}
}

package guard

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/config"
)

// FuzzVerify checks the verifier on arbitrary tokens: every refusal is an
// *Error with a 400, 401 or 503 status, and every accepted token is one of
// the valid tokens minted here, byte for byte (no one can sign another, so
// anything else accepted is a forgery or another spelling of a token).
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	good := mint(f, fx.rsa, claims(idpIssuer))
	goodEC := mint(f, fx.ec, claims(idpIssuer))
	goodLocal := mint(f, fx.local, claims(localIssuer))
	parts := strings.Split(good, ".")
	expired := claims(idpIssuer)
	expired["exp"] = t0.Add(-time.Hour).Unix()
	for _, seed := range []string{
		good,                                // valid
		goodEC,                              // valid ES256
		goodLocal,                           // valid local
		mint(f, fx.rsa, expired),            // expired
		parts[0] + "." + parts[1] + ".AAAA", // bad signature
		b64(`{"alg":"none"}`) + "." + parts[1] + ".x",                                                         // alg none
		b64(`{"alg":"RS256","kid":"r1"}`) + "." + b64(`{"iss":"`+idpIssuer+`","exp":1e999}`) + "." + parts[2], // absurd exp
		b64(`{"alg":"RS256","kid":"zz"}`) + "." + b64(`{"iss":"`+idpIssuer+`"}`) + ".x",                       // unknown kid
		`{"payload":"e30","signatures":[]}`,                                                                   // JSON serialization
		"a.b.c", "...", "", "Bearer x",                                                                        // garbage
	} {
		f.Add(seed)
	}
	// Failures of the "only minted tokens" property: the valid token with
	// stray padding bits in a segment was accepted (jwx decodes leniently).
	for i := range 3 {
		if tok, ok := respell(good, i); ok {
			f.Add(tok)
		}
	}
	route := &config.Route{Scopes: []string{"query_mapdata"}, InsufficientScopeStatus: http.StatusForbidden}
	f.Fuzz(func(t *testing.T, tok string) {
		st := fx.guard.state.Load()
		p, err := fx.guard.verifyCached(t.Context(), st, tok)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.Status != http.StatusUnauthorized && e.Status != http.StatusBadRequest && e.Status != http.StatusServiceUnavailable {
				t.Fatalf("status %d for %v", e.Status, e)
			}
			if e.Reason == "" || e.Description == "" {
				t.Fatalf("error without reason or description: %+v", e)
			}
			return
		}
		if tok != good && tok != goodEC && tok != goodLocal {
			t.Fatalf("accepted a token that was not minted: %q", tok)
		}
		if p.Issuer != idpIssuer && p.Issuer != localIssuer {
			t.Fatalf("accepted issuer %q", p.Issuer)
		}
		if !p.Expiry.After(t0.Add(-30 * time.Second)) {
			t.Fatalf("accepted a token expired at %v", p.Expiry)
		}
		// the policy step only ever answers with *Error as well
		if err := fx.guard.checkScopes(nil, route, p, ""); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusForbidden {
				t.Fatalf("policy error %v", err)
			}
		}
	})
}

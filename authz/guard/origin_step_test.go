package guard

import (
	"testing"
	"time"

	"github.com/clearance-gw/clearance/config"
)

type allowOrigins map[string][]string // client id -> origins

func (a allowOrigins) ClientAllows(clientID, origin string) bool {
	for _, o := range a[clientID] {
		if o == origin {
			return true
		}
	}
	return false
}

// TestOriginStep is SPEC §6 step 5: with an Origin header, the token's
// client must allow that origin, else 401 invalid_token.
func TestOriginStep(t *testing.T) {
	f := newFixture(t, func(_ *fixture, c *config.Config, o *Options) {
		o.Origins = allowOrigins{"web-app": {"https://app.example"}}
		c.TrustedIssuers[0].AllowedOrigins = []string{"https://idp-app.example"}
	})
	local := claims(localIssuer)
	local["client_id"] = "web-app"
	localTok := mint(t, f.local, local)
	other := claims(localIssuer)
	other["client_id"] = "backend"
	otherTok := mint(t, f.local, other)
	idpTok := mint(t, f.rsa, claims(idpIssuer))
	route := &config.Route{Name: "maps", InsufficientScopeStatus: 401, AllowedOrigins: []string{"https://route.example"}}

	for _, tt := range []struct {
		name, token, origin string
		ok                  bool
	}{
		{"no Origin header", otherTok, "", true},
		{"the client's origin", localTok, "https://app.example", true},
		{"another origin", localTok, "https://evil.example", false},
		{"a client without origins", otherTok, "https://app.example", false},
		{"a route origin does not stand in for a local client", localTok, "https://route.example", false},
		{"trusted issuer: the route's origin", idpTok, "https://route.example", true},
		{"trusted issuer: the issuer's origin", idpTok, "https://idp-app.example", true},
		{"trusted issuer: another origin", idpTok, "https://app.example", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := bearerRequest(tt.token)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			_, err := f.guard.Check(r, route)
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok {
				assertErr(t, err, errOrigin)
			}
		})
	}
	// The cached path checks the origin too.
	f.clock.Advance(time.Second)
	r := bearerRequest(localTok)
	r.Header.Set("Origin", "https://evil.example")
	_, err := f.guard.Check(r, route)
	assertErr(t, err, errOrigin)
}

package authz

import (
	"testing"

	"github.com/clearance-gw/clearance/config"
)

// BenchmarkGuard measures Check for a valid token: served by the verified-
// token cache, and verified from scratch per algorithm (cache disabled).
func BenchmarkGuard(b *testing.B) {
	route := &config.Route{Name: "mapdata", Scopes: []string{"query_mapdata"}, InsufficientScopeStatus: 401}
	run := func(b *testing.B, f *fixture, tok string) {
		r := bearerRequest(tok)
		if _, err := f.guard.Check(r, route); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.guard.Check(r, route); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cached", func(b *testing.B) {
		f := newFixture(b, withRevocations(&fakeRevocations{}))
		run(b, f, mint(b, f.rsa, claims(idpIssuer)))
	})
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, withCacheSize(0), withRevocations(&fakeRevocations{}))
			s := map[string]signer{"RS256": f.rsa, "ES256": f.ec, "EdDSA": f.ed}[alg]
			run(b, f, mint(b, s, claims(idpIssuer)))
		})
	}
}

package guard

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/revocation"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// noRevocations is an empty revocation source.
type noRevocations struct{}

func (noRevocations) RevocationsSince(context.Context, int64) ([]store.Revocation, error) {
	return nil, nil
}

var _ Revocations = (*revocation.Set)(nil)

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
	b.Run("cached local token, revocation set with cutoffs", func(b *testing.B) {
		set := revocation.New(noRevocations{}, revocation.Options{})
		for i := range 1000 {
			set.Add(store.Revocation{JTI: fmt.Sprint("revoked-", i), ClientID: fmt.Sprint("client-", i),
				Subject: fmt.Sprint("user-", i), Cutoff: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)})
		}
		f := newFixture(b, withRevocations(set))
		c := claims(localIssuer)
		c["client_id"], c["sid"] = "client-5", "session-5"
		c[ClaimClientCreated], c[ClaimUserCreated] = t0.UnixMicro(), t0.UnixMicro() // created after the cutoffs
		run(b, f, mint(b, f.local, c))
	})
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, withCacheSize(0), withRevocations(&fakeRevocations{}))
			s := map[string]signer{"RS256": f.rsa, "ES256": f.ec, "EdDSA": f.ed}[alg]
			run(b, f, mint(b, s, claims(idpIssuer)))
		})
	}
}

// BenchmarkGuardDistinct cycles through 2% more valid tokens than the
// verified-token cache holds, as a fleet of clients with a token each
// does: the figure is dominated by how many requests miss the cache and
// pay for a signature check.
func BenchmarkGuardDistinct(b *testing.B) {
	const size = 5000
	f := newFixture(b, withCacheSize(size), withRevocations(&fakeRevocations{}))
	route := &config.Route{Name: "mapdata", Scopes: []string{"query_mapdata"}, InsufficientScopeStatus: 401}
	reqs := make([]*http.Request, size+size/50)
	for i := range reqs {
		c := claims(idpIssuer)
		c["jti"] = fmt.Sprint("jti-", i)
		reqs[i] = bearerRequest(mint(b, f.ed, c))
	}
	for _, r := range reqs { // one pass to fill the cache
		if _, err := f.guard.Check(r, route); err != nil {
			b.Fatal(err)
		}
	}
	h0, m0 := f.cacheCounts()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := f.guard.Check(reqs[i%len(reqs)], route); err != nil {
			b.Fatal(err)
		}
		i++
	}
	h, m := f.cacheCounts()
	b.ReportMetric((h-h0)/(h-h0+m-m0), "hit-rate")
}

// BenchmarkGuardRefusal measures Check for each refusal the bench
// scenarios send; every one but the missing token is remembered after
// its first check.
func BenchmarkGuardRefusal(b *testing.B) {
	f := newFixture(b, withRevocations(&fakeRevocations{}))
	route := &config.Route{Name: "mapdata", Scopes: []string{"query_mapdata"}, InsufficientScopeStatus: 401}
	good := mint(b, f.rsa, claims(idpIssuer))
	c := claims(idpIssuer)
	c["scope"] = "talk_tower"
	for _, tc := range []struct {
		name string
		r    *http.Request
	}{
		{"invalid-signature", bearerRequest(badSig(good))},
		{"expired", bearerRequest(mint(b, f.rsa, map[string]any{"iss": idpIssuer, "aud": idpAudience, "exp": t0.Add(-time.Hour).Unix()}))},
		{"no-token", httptestRequest()},
		{"wrong-scope", bearerRequest(mint(b, f.rsa, c))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := f.guard.Check(tc.r, route); err == nil {
				b.Fatal("accepted")
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.guard.Check(tc.r, route); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

package guard

import (
	"net/http"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/config"
)

// badSig returns tok with a changed signature, still canonical base64url.
func badSig(tok string) string {
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func TestRefusalCache(t *testing.T) {
	t.Run("a bad signature is checked once, then refused from memory", func(t *testing.T) {
		f := newFixture(t)
		tok := badSig(mint(t, f.rsa, claims(idpIssuer)))
		for range 3 {
			assertErr(t, f.check(t, tok), errSignature)
		}
		if h, m := f.cacheCounts(); h != 2 || m != 1 {
			t.Fatalf("hits, misses = %v, %v; want 2, 1", h, m)
		}
	})
	t.Run("an expired token is refused from memory, also later", func(t *testing.T) {
		f := newFixture(t)
		tok := mint(t, f.rsa, claims(idpIssuer))
		f.clock.Set(t0.Add(2 * time.Hour))
		assertErr(t, f.check(t, tok), errExpired)
		f.clock.Advance(24 * time.Hour)
		assertErr(t, f.check(t, tok), errExpired)
		if h, m := f.cacheCounts(); h != 1 || m != 1 {
			t.Fatalf("hits, misses = %v, %v; want 1, 1", h, m)
		}
	})
	t.Run("not kept past the moment a token becomes valid", func(t *testing.T) {
		f := newFixture(t)
		c := claims(idpIssuer)
		c["nbf"] = t0.Add(10 * time.Minute).Unix()
		tok := mint(t, f.rsa, c)
		assertErr(t, f.check(t, tok), errNotYetValid)
		f.clock.Advance(10 * time.Minute)
		if err := f.check(t, tok); err != nil {
			t.Fatalf("valid token refused from memory: %v", err)
		}
	})
	t.Run("forgotten when the local keys change", func(t *testing.T) {
		f := newFixture(t)
		next := ecSigner(t, "g1") // the same kid, another key and algorithm
		tok := mint(t, next, claims(localIssuer))
		assertErr(t, f.check(t, tok), errAlgNotAllowed)
		assertErr(t, f.check(t, tok), errAlgNotAllowed)
		if err := f.guard.SetLocalKeys(publicSet(t, next)); err != nil {
			t.Fatal(err)
		}
		if err := f.check(t, tok); err != nil {
			t.Fatalf("token of the new key refused from memory: %v", err)
		}
	})
	t.Run("forgotten when a trusted issuer's keys are fetched anew", func(t *testing.T) {
		f := newFixture(t)
		if err := f.guard.Ready(t.Context()); err != nil {
			t.Fatal(err)
		}
		next := ecSigner(t, "e1") // the issuer replaces the key behind kid e1
		tok := mint(t, next, claims(idpIssuer))
		assertErr(t, f.check(t, tok), errSignature)
		f.jwks.serve(http.StatusOK, jwksJSON(t, f.rsa, next, f.ed))
		// An unknown kid makes the guard fetch the set again.
		f.clock.Advance(time.Minute)
		assertErr(t, f.check(t, mint(t, ecSigner(t, "e9"), claims(idpIssuer))), errUnknownKeyID)
		if err := f.check(t, tok); err != nil {
			t.Fatalf("token of the new key refused from memory: %v", err)
		}
	})
	t.Run("an unknown kid is asked about again after the interval", func(t *testing.T) {
		f := newFixture(t)
		if err := f.guard.Ready(t.Context()); err != nil {
			t.Fatal(err)
		}
		next := ecSigner(t, "e2")
		tok := mint(t, next, claims(idpIssuer))
		f.clock.Advance(time.Minute)
		assertErr(t, f.check(t, tok), errUnknownKeyID)
		f.jwks.serve(http.StatusOK, jwksJSON(t, f.rsa, f.ec, f.ed, next))
		f.clock.Advance(time.Minute)
		if err := f.check(t, tok); err != nil {
			t.Fatalf("newly published kid refused: %v", err)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		f := newFixture(t, withCacheSize(2))
		for i := range 5 {
			c := claims(idpIssuer)
			c["jti"] = string(rune('a' + i))
			assertErr(t, f.check(t, badSig(mint(t, f.rsa, c))), errSignature)
		}
		if n := f.guard.state.Load().refused.Len(); n != 2 {
			t.Fatalf("%d refusals kept, want 2", n)
		}
	})
	t.Run("not a token at all is refused before the cache", func(t *testing.T) {
		f := newFixture(t)
		assertErr(t, f.check(t, "not-a-jwt"), errMalformedToken)
		if n := f.guard.state.Load().refused.Len(); n != 0 {
			t.Fatalf("%d refusals kept", n)
		}
	})
}

// A refusal the guard remembers allocates no more than accepting a cached
// token: refusing must not be the dearer path.
func TestRefusalAllocatesNoMoreThanAcceptance(t *testing.T) {
	f := newFixture(t, withRevocations(&fakeRevocations{}))
	route := &config.Route{Name: "mapdata", Scopes: []string{"query_mapdata"}, InsufficientScopeStatus: 401}
	good := mint(t, f.rsa, claims(idpIssuer))
	c := claims(idpIssuer)
	c["scope"] = "talk_tower"
	noScope := mint(t, f.rsa, c)
	accept := bearerRequest(good)
	if _, err := f.guard.Check(accept, route); err != nil {
		t.Fatal(err)
	}
	accepted := testing.AllocsPerRun(200, func() { f.guard.Check(accept, route) })
	for name, r := range map[string]*http.Request{
		"bad signature": bearerRequest(badSig(good)),
		"expired":       bearerRequest(mint(t, f.rsa, map[string]any{"iss": idpIssuer, "aud": idpAudience, "exp": t0.Add(-time.Hour).Unix()})),
		"no token":      httptestRequest(),
		"wrong scope":   bearerRequest(noScope),
	} {
		if _, err := f.guard.Check(r, route); err == nil {
			t.Fatalf("%s accepted", name)
		}
		if refused := testing.AllocsPerRun(200, func() { f.guard.Check(r, route) }); refused > accepted {
			t.Errorf("%s: %v allocations per refusal, %v per acceptance", name, refused, accepted)
		}
	}
}

func httptestRequest() *http.Request {
	r := bearerRequest("x")
	r.Header.Del("Authorization")
	return r
}

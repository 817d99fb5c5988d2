package guard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/httprc"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clearance-gw/clearance/config"
)

func (f *fixture) refreshes(result string) float64 {
	return testutil.ToFloat64(f.metrics.jwksRefresh.WithLabelValues(idpIssuer, result))
}

func (f *fixture) check(t *testing.T, tok string) error {
	t.Helper()
	_, err := f.guard.Check(bearerRequest(tok), nil)
	return err
}

func TestJWKSRotation(t *testing.T) {
	f := newFixture(t)
	if got := f.jwks.hits.Load(); got != 1 {
		t.Fatalf("start-up fetches = %d, want 1", got)
	}
	if err := f.guard.Ready(t.Context()); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	next := ecSigner(t, "e2")
	tok := mint(t, next, claims(idpIssuer))

	// The issuer rotates: the new kid is accepted after exactly one refetch.
	f.jwks.serve(http.StatusOK, jwksJSON(t, f.rsa, f.ec, f.ed, next))
	if err := f.check(t, tok); err != nil {
		t.Fatalf("rotated key refused: %v", err)
	}
	if got := f.jwks.hits.Load(); got != 2 {
		t.Fatalf("fetches = %d, want exactly one more (2)", got)
	}
	// the new keyring serves further tokens without fetching
	c := claims(idpIssuer)
	c["jti"] = "jti-2"
	if err := f.check(t, mint(t, next, c)); err != nil {
		t.Fatal(err)
	}
	if err := f.check(t, mint(t, f.rsa, c)); err != nil {
		t.Fatal(err)
	}
	if got := f.jwks.hits.Load(); got != 2 {
		t.Fatalf("fetches = %d after known kids, want 2", got)
	}
	if ok := f.refreshes("ok"); ok != 2 {
		t.Fatalf("jwks_refresh ok = %v, want 2", ok)
	}

	// A kid the issuer never published: one refetch in the interval, then refused.
	stray := mint(t, ecSigner(t, "e3"), claims(idpIssuer))
	assertErr(t, f.check(t, stray), errUnknownKeyID)
	if got := f.jwks.hits.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2: the rotation refetch was less than a minute ago", got)
	}
	f.clock.Advance(time.Minute)
	assertErr(t, f.check(t, stray), errUnknownKeyID)
	if got := f.jwks.hits.Load(); got != 3 {
		t.Fatalf("fetches = %d, want 3", got)
	}
}

func TestJWKSDownKeepsLastKeys(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   []byte
	}{
		{"server error", http.StatusServiceUnavailable, []byte(`{"error":"down"}`)},
		{"not JSON", http.StatusOK, []byte("<html>maintenance</html>")},
		{"too large", http.StatusOK, hugeJWKS(t)},
		{"no usable keys", http.StatusOK, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`)},
		{"server gone", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withCacheSize(0))
			tok := mint(t, f.rsa, claims(idpIssuer))
			if tc.status == 0 {
				f.jwks.Close()
			} else {
				f.jwks.serve(tc.status, tc.body)
			}
			// an unknown kid forces a refetch, which fails
			assertErr(t, f.check(t, mint(t, ecSigner(t, "new"), claims(idpIssuer))), errUnknownKeyID)
			if got := f.refreshes("error"); got != 1 {
				t.Fatalf("jwks_refresh error = %v, want 1", got)
			}
			if err := f.check(t, tok); err != nil {
				t.Fatalf("last good keys not used: %v", err)
			}
			if err := f.guard.Ready(t.Context()); err != nil {
				t.Fatalf("Ready after a good first fetch = %v", err)
			}
		})
	}
}

// hugeJWKS is a valid JWKS just over the size bound.
func hugeJWKS(t *testing.T) []byte {
	b, err := json.Marshal(map[string]any{"keys": []any{}, "padding": strings.Repeat("x", MaxJWKSSize)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJWKSUnavailableAtStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   []byte
	}{
		{"too large", http.StatusOK, hugeJWKS(t)},
		{"not JSON", http.StatusOK, []byte("not json at all")},
		{"not found", http.StatusNotFound, []byte("{}")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withJWKS(tc.status, tc.body))
			tok := mint(t, f.rsa, claims(idpIssuer))
			_, err := f.guard.Check(bearerRequest(tok), nil)
			assertErr(t, err, errKeysUnavailable)
			err = f.guard.Ready(t.Context())
			if err == nil || !strings.Contains(err.Error(), idpIssuer) {
				t.Fatalf("Ready = %v, want the issuer named", err)
			}
			for range 10 {
				assertErr(t, f.check(t, tok), errKeysUnavailable)
			}
			// start-up, then one refetch for the first request; the rest are rate-limited
			if got := f.refreshes("error"); got != 2 {
				t.Fatalf("jwks_refresh error = %v, want 2", got)
			}
			if got := f.jwks.hits.Load(); got != 2 {
				t.Fatalf("fetches = %d, want 2", got)
			}

			// the issuer recovers; after the refetch interval the next request fetches
			f.jwks.serve(http.StatusOK, jwksJSON(t, f.rsa))
			f.clock.Advance(time.Minute)
			if err := f.check(t, tok); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
			if err := f.guard.Ready(t.Context()); err != nil {
				t.Fatalf("Ready after recovery = %v", err)
			}
		})
	}
}

func TestUnknownKidFloodIsRateLimited(t *testing.T) {
	f := newFixture(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	toks := make([]string, n)
	for i := range toks {
		toks[i] = mint(t, newSigner(t, ec, fmt.Sprintf("random-%d", i), jwa.ES256), claims(idpIssuer))
	}
	start := f.jwks.hits.Load()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan string)
	for range 16 {
		wg.Go(func() {
			for tok := range next {
				_, err := f.guard.Check(bearerRequest(tok), nil)
				errs <- err
			}
		})
	}
	for _, tok := range toks {
		next <- tok
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		assertErr(t, err, errUnknownKeyID)
	}
	if got := f.jwks.hits.Load() - start; got != 1 {
		t.Fatalf("%d unknown kids caused %d fetches, want 1", n, got)
	}

	f.clock.Advance(59 * time.Second)
	assertErr(t, f.check(t, toks[0]), errUnknownKeyID)
	if got := f.jwks.hits.Load() - start; got != 1 {
		t.Fatalf("fetches before the interval passed = %d, want 1", got)
	}
	f.clock.Advance(time.Second)
	for _, tok := range toks[:10] {
		assertErr(t, f.check(t, tok), errUnknownKeyID)
	}
	if got := f.jwks.hits.Load() - start; got != 2 {
		t.Fatalf("fetches after the interval = %d, want 2", got)
	}
}

func TestKeyFiltering(t *testing.T) {
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := newSigner(t, rsaKey(), "enc", jwa.RS256)
	_ = enc.key.Set(jwk.KeyUsageKey, "enc")
	weak := newSigner(t, weakRSA, "weak", jwa.RS256)
	badCurve := newSigner(t, p384, "p384", jwa.ES256)
	noAlgEC := ecSigner(t, "ec-noalg")
	_ = noAlgEC.key.Remove(jwk.AlgorithmKey)
	noAlgRSA := newSigner(t, rsaKey(), "rsa-noalg", jwa.RS256)
	_ = noAlgRSA.key.Remove(jwk.AlgorithmKey)
	sigUse := edSigner(t, "ed-sig")
	_ = sigUse.key.Set(jwk.KeyUsageKey, "sig")

	set := publicSet(t, enc, weak, noAlgEC, noAlgRSA, sigUse)
	// P-384 under ES256 cannot be signed by jwx's pairing check, so its public key is added directly.
	pk, _ := badCurve.key.PublicKey()
	_ = set.AddKey(pk)
	hmac, err := jwk.FromRaw([]byte("shared-secret-of-sufficient-length"))
	if err != nil {
		t.Fatal(err)
	}
	_ = hmac.Set(jwk.KeyIDKey, "hmac")
	_ = hmac.Set(jwk.AlgorithmKey, jwa.HS256)
	_ = set.AddKey(hmac)
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}

	f := newFixture(t, withJWKS(http.StatusOK, body))
	hs := signer{alg: jwa.HS256, key: hmac}
	tests := []struct {
		name string
		tok  string
		want *Error
	}{
		{"use enc dropped", mint(t, enc, claims(idpIssuer)), errUnknownKeyID},
		{"RSA under 2048 bits dropped", mint(t, weak, claims(idpIssuer)), errUnknownKeyID},
		{"oct key dropped, HS256 refused", mint(t, hs, claims(idpIssuer)), errAlgNotAllowed},
		{"EC key without alg gets ES256", mint(t, ecAsES256(t, noAlgEC), claims(idpIssuer)), nil},
		{"RSA key without alg gets RS256", mint(t, newSigner(t, rsaKey(), "rsa-noalg", jwa.RS256), claims(idpIssuer)), nil},
		{"use sig kept", mint(t, sigUse, claims(idpIssuer)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.check(t, tt.tok)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			assertErr(t, err, tt.want)
		})
	}
	t.Run("P-384 key under ES256 dropped", func(t *testing.T) {
		kr := f.guard.state.Load().trusted[idpIssuer].remote.ring.Load()
		for _, kid := range []string{"enc", "weak", "hmac", "p384"} {
			if _, ok := kr.byKID[kid]; ok {
				t.Errorf("key %q kept", kid)
			}
		}
		if k := kr.byKID["ec-noalg"]; k == nil || k.alg != jwa.ES256 {
			t.Errorf("ec-noalg = %+v, want alg ES256", k)
		}
	})
}

// ecAsES256 restores the alg on a signer whose public JWK had it removed.
func ecAsES256(t *testing.T, s signer) signer {
	t.Helper()
	var raw any
	if err := s.key.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	return newSigner(t, raw, s.key.KeyID(), jwa.ES256)
}

func TestInlineJWKSWithAmbiguousAlgorithms(t *testing.T) {
	f := newFixture(t)
	s := newSigner(t, rsaKey(), "inline-1", jwa.RS256)
	_ = s.key.Remove(jwk.AlgorithmKey)
	cfg := testConfig(f.jwks.URL)
	cfg.TrustedIssuers = append(cfg.TrustedIssuers, config.TrustedIssuer{
		Issuer:     "https://inline.example",
		JWKS:       string(jwksJSON(t, s)),
		Audience:   config.StringOrSet{idpAudience},
		Algorithms: []string{"RS256", "PS256"},
	})
	if err := f.guard.Update(cfg); err != nil {
		t.Fatal(err)
	}
	for _, alg := range []jwa.SignatureAlgorithm{jwa.RS256, jwa.PS256} {
		c := claims("https://inline.example")
		if err := f.check(t, mint(t, newSigner(t, rsaKey(), "inline-1", alg), c)); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	assertErr(t, f.check(t, mint(t, newSigner(t, rsaKey(), "inline-1", jwa.RS512), claims("https://inline.example"))), errAlgNotAllowed)
}

func TestUpdateSwapsIssuers(t *testing.T) {
	f := newFixture(t)
	idpTok := mint(t, f.rsa, claims(idpIssuer))
	if err := f.check(t, idpTok); err != nil { // cached now
		t.Fatal(err)
	}

	inline := edSigner(t, "inline-ed")
	_ = inline.key.Remove(jwk.AlgorithmKey)
	cfg2 := testConfig("")
	cfg2.TrustedIssuers = []config.TrustedIssuer{{
		Issuer:     "https://inline.example",
		JWKS:       string(jwksJSON(t, inline)),
		JWKSFile:   "keys/inline.json", // loaded by config.Load into JWKS
		Audience:   config.StringOrSet{idpAudience},
		Algorithms: []string{"EdDSA"},
	}}
	if err := f.guard.Update(cfg2); err != nil {
		t.Fatal(err)
	}
	assertErr(t, f.check(t, idpTok), errUntrustedIssuer)
	inlineTok := mint(t, newSigner(t, rawOf(t, inline), "inline-ed", jwa.EdDSA), claims("https://inline.example"))
	if err := f.check(t, inlineTok); err != nil {
		t.Fatal(err)
	}
	if f.guard.cache.IsRegistered(f.jwks.URL) {
		t.Error("removed jwks_url still registered")
	}

	refused := []struct {
		name string
		mod  func(*config.TrustedIssuer)
		msg  string
	}{
		{"inline JWKS that do not parse", func(ti *config.TrustedIssuer) { ti.JWKS = "{not json" }, "inline jwks"},
		{"inline JWKS without usable keys", func(ti *config.TrustedIssuer) { ti.JWKS = `{"keys":[]}` }, "no usable signing keys"},
		{"no audience", func(ti *config.TrustedIssuer) { ti.Audience = nil }, "audience is required"},
		{"HS256 configured", func(ti *config.TrustedIssuer) { ti.Algorithms = []string{"HS256"} }, `algorithm "HS256" is not accepted`},
		{"none configured", func(ti *config.TrustedIssuer) { ti.Algorithms = []string{"none"} }, `algorithm "none" is not accepted`},
		{"own issuer", func(ti *config.TrustedIssuer) { ti.Issuer = localIssuer }, "gateway's own issuer"},
		{"both key sources", func(ti *config.TrustedIssuer) { ti.JWKSURL = "https://idp.example/jwks" }, "both jwks and jwks_url"},
		{"relative jwks_url", func(ti *config.TrustedIssuer) { ti.JWKS = ""; ti.JWKSURL = "/jwks" }, "not an absolute http(s) URL"},
	}
	for _, tc := range refused {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			bad := testConfig("")
			bad.TrustedIssuers = []config.TrustedIssuer{cfg2.TrustedIssuers[0]}
			tc.mod(&bad.TrustedIssuers[0])
			err := f.guard.Update(bad)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Update = %v, want an error containing %q", err, tc.msg)
			}
			if err := f.check(t, inlineTok); err != nil {
				t.Fatalf("running config lost: %v", err)
			}
		})
	}

	t.Run("back to the jwks_url", func(t *testing.T) {
		before := f.jwks.hits.Load()
		if err := f.guard.Update(testConfig(f.jwks.URL)); err != nil {
			t.Fatal(err)
		}
		if got := f.jwks.hits.Load() - before; got != 1 {
			t.Fatalf("fetches on re-adding = %d, want 1", got)
		}
		if err := f.check(t, idpTok); err != nil {
			t.Fatal(err)
		}
		assertErr(t, f.check(t, inlineTok), errUntrustedIssuer)
	})
	t.Run("unchanged issuer is not fetched again", func(t *testing.T) {
		before := f.jwks.hits.Load()
		if err := f.guard.Update(testConfig(f.jwks.URL)); err != nil {
			t.Fatal(err)
		}
		if got := f.jwks.hits.Load() - before; got != 0 {
			t.Fatalf("fetches = %d, want 0", got)
		}
	})
}

func rawOf(t *testing.T, s signer) any {
	t.Helper()
	var raw any
	if err := s.key.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestBackgroundRefreshErrorsAreCounted(t *testing.T) {
	f := newFixture(t)
	// what the jwk.Cache's refresh loop hands the sink
	errSink{f.guard}.Error(&httprc.RefreshError{URL: f.jwks.URL, Err: errors.New("connection refused")})
	errSink{f.guard}.Error(errors.New("not a refresh error"))
	if got := f.refreshes("error"); got != 1 {
		t.Fatalf("jwks_refresh{issuer=%s,result=error} = %v, want 1", idpIssuer, got)
	}
	if got := testutil.ToFloat64(f.metrics.jwksRefresh.WithLabelValues("unknown", "error")); got != 1 {
		t.Fatalf("jwks_refresh{issuer=unknown,result=error} = %v, want 1", got)
	}
}

func TestDefaultsWithoutOptions(t *testing.T) {
	s := edSigner(t, "d")
	cfg := testConfig("")
	cfg.TrustedIssuers = []config.TrustedIssuer{{
		Issuer:   "https://inline.example",
		JWKS:     string(jwksJSON(t, s)),
		Audience: config.StringOrSet{idpAudience},
		// Algorithms left empty: RS256 only, so the EdDSA key is unusable
	}}
	if _, err := NewGuard(t.Context(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "no usable signing keys") {
		t.Fatalf("NewGuard = %v, want the EdDSA key refused under the RS256 default", err)
	}
	cfg.TrustedIssuers[0].Algorithms = []string{"EdDSA"}
	g, err := NewGuard(t.Context(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := claims("https://inline.example")
	now := time.Now()
	c["iat"], c["exp"] = now.Unix(), now.Add(time.Minute).Unix()
	if _, err := g.Check(bearerRequest(mint(t, s, c)), nil); err != nil {
		t.Fatal(err)
	}
}

// Reloads and key swaps while requests run: no request may fail, and the
// race detector must stay quiet.
func TestConcurrentUpdates(t *testing.T) {
	f := newFixture(t)
	toks := []string{mint(t, f.rsa, claims(idpIssuer)), mint(t, f.ec, claims(idpIssuer)), mint(t, f.local, claims(localIssuer))}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		wg.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.guard.Check(bearerRequest(toks[(i+j)%len(toks)]), nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range 200 {
		cfg := testConfig(f.jwks.URL)
		cfg.TokenCacheSize = 10 + i
		if err := f.guard.Update(cfg); err != nil {
			t.Fatal(err)
		}
		if err := f.guard.SetLocalKeys(publicSet(t, f.local)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request failed during reload: %v", err)
	}
}

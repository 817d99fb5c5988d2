package guard

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/testclock"
)

const (
	localIssuer   = "https://gw.example"
	localAudience = "https://api.example"
	idpIssuer     = "https://idp.example"
	idpAudience   = "aviation-api"
	realm         = "clearance"
)

// t0 is the fake clock's start: tokens are minted relative to it.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// rsaKey is generated once per package: RSA-2048 generation is the slow part.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// newClock is a fake clock at t0: it only moves when told.
func newClock() *testclock.Clock { return testclock.New(t0) }

// signer is a private key with its kid and alg.
type signer struct {
	alg jwa.SignatureAlgorithm
	key jwk.Key
}

func newSigner(t testing.TB, raw any, kid string, alg jwa.SignatureAlgorithm) signer {
	t.Helper()
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.AlgorithmKey, alg); err != nil {
		t.Fatal(err)
	}
	return signer{alg: alg, key: k}
}

func rsaSigner(t testing.TB, kid string) signer {
	return newSigner(t, rsaKey(), kid, jwa.RS256)
}

func ecSigner(t testing.TB, kid string) signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newSigner(t, k, kid, jwa.ES256)
}

func edSigner(t testing.TB, kid string) signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newSigner(t, k, kid, jwa.EdDSA)
}

// publicSet is the JWKS of the given signers.
func publicSet(t testing.TB, ss ...signer) jwk.Set {
	t.Helper()
	set := jwk.NewSet()
	for _, s := range ss {
		pk, err := s.key.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(pk); err != nil {
			t.Fatal(err)
		}
	}
	return set
}

func jwksJSON(t testing.TB, ss ...signer) []byte {
	t.Helper()
	b, err := json.Marshal(publicSet(t, ss...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// claims are the default claims of a token of iss, valid for an hour from t0.
func claims(iss string) map[string]any {
	aud := idpAudience
	if iss == localIssuer {
		aud = localAudience
	}
	return map[string]any{
		"iss":   iss,
		"aud":   []string{aud},
		"sub":   "pilot-7",
		"exp":   t0.Add(time.Hour).Unix(),
		"iat":   t0.Unix(),
		"jti":   "jti-1",
		"scope": "query_mapdata talk_tower",
	}
}

// mint signs claims with s, with typ at+jwt unless the claims say otherwise.
func mint(t testing.TB, s signer, c map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return mintRaw(t, s, payload, "at+jwt")
}

func mintRaw(t testing.TB, s signer, payload []byte, typ string) string {
	t.Helper()
	h := jws.NewHeaders()
	if typ != "" {
		if err := h.Set(jws.TypeKey, typ); err != nil {
			t.Fatal(err)
		}
	}
	b, err := jws.Sign(payload, jws.WithKey(s.alg, s.key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mintCrit signs payload with a "crit" header naming an extension no
// verifier knows (RFC 7515 §4.1.11).
func mintCrit(t testing.TB, s signer, payload []byte) string {
	t.Helper()
	h := jws.NewHeaders()
	for k, v := range map[string]any{jws.TypeKey: "at+jwt", jws.CriticalKey: []string{"x-must-understand"}, "x-must-understand": true} {
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := jws.Sign(payload, jws.WithKey(s.alg, s.key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mintJWT signs through jwt.Sign, the way the issuer does.
func mintJWT(t testing.TB, s signer, iss, aud string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewBuilder().Issuer(iss).Subject("pilot-7").Audience([]string{aud}).
		IssuedAt(t0).Expiration(exp).JwtID("jti-jwt").Claim("scope", "query_mapdata").Build()
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, "at+jwt")
	b, err := jwt.Sign(tok, jwt.WithKey(s.alg, s.key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jwksServer serves a JWKS that tests change at will, and counts requests.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	hits   atomic.Int64
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

func testConfig(jwksURL string) *config.Config {
	return &config.Config{
		Issuer:                  localIssuer,
		Realm:                   realm,
		Tokens:                  config.Tokens{Alg: "RS256", Audience: localAudience},
		Leeway:                  config.Duration(30 * time.Second),
		TokenCacheSize:          1000,
		InsufficientScopeStatus: http.StatusUnauthorized,
		TrustedIssuers: []config.TrustedIssuer{{
			Issuer:             idpIssuer,
			JWKSURL:            jwksURL,
			Audience:           config.StringOrSet{idpAudience, "other-api"},
			Algorithms:         []string{"RS256", "ES256", "EdDSA"},
			RefreshInterval:    config.Duration(15 * time.Minute),
			MinRefetchInterval: config.Duration(time.Minute),
		}},
	}
}

// fixture is a guard in front of a JWKS server, with its clock and metrics.
type fixture struct {
	guard   *Guard
	clock   *testclock.Clock
	jwks    *jwksServer
	reg     *prometheus.Registry
	metrics *Metrics
	rsa     signer // idp, kid r1
	ec      signer // idp, kid e1
	ed      signer // idp, kid d1
	local   signer // gateway, kid g1
}

type fixtureOption func(*fixture, *config.Config, *Options)

func withCacheSize(n int) fixtureOption {
	return func(_ *fixture, c *config.Config, _ *Options) { c.TokenCacheSize = n }
}

func withRevocations(r Revocations) fixtureOption {
	return func(_ *fixture, _ *config.Config, o *Options) { o.Revocations = r }
}

// withJWKS makes the JWKS server answer status and body from the start.
func withJWKS(status int, body []byte) fixtureOption {
	return func(f *fixture, _ *config.Config, _ *Options) { f.jwks.serve(status, body) }
}

func newFixture(t testing.TB, opts ...fixtureOption) *fixture {
	t.Helper()
	f := &fixture{
		clock: newClock(),
		rsa:   rsaSigner(t, "r1"),
		ec:    ecSigner(t, "e1"),
		ed:    edSigner(t, "d1"),
		local: rsaSigner(t, "g1"),
		reg:   prometheus.NewPedanticRegistry(),
	}
	f.jwks = newJWKSServer(t, jwksJSON(t, f.rsa, f.ec, f.ed))
	f.metrics = NewMetrics(f.reg)
	cfg := testConfig(f.jwks.URL)
	o := Options{Now: f.clock.Now, Logger: testLogger(t), Metrics: f.metrics}
	for _, fn := range opts {
		fn(f, cfg, &o)
	}
	g, err := NewGuard(t.Context(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetLocalKeys(publicSet(t, f.local)); err != nil {
		t.Fatal(err)
	}
	f.guard = g
	return f
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	return slog.New(slog.DiscardHandler)
}

// bearerRequest is a GET with the token in the Authorization header.
func bearerRequest(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/mapdata/x", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// fakeRevocations revokes the listed jtis and sessions. (Cutoffs are
// tested with the real revocation set.)
type fakeRevocations struct {
	mu   sync.Mutex
	jtis map[string]bool
	sids map[string]bool
}

func (f *fakeRevocations) RevokedToken(jti, sid string, _ int64, _, _ string, _, _, _ int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jtis[jti] || (sid != "" && f.sids[sid])
}

func (f *fakeRevocations) revoke(jti string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jtis == nil {
		f.jtis = map[string]bool{}
	}
	f.jtis[jti] = true
}

var _ Revocations = (*fakeRevocations)(nil)

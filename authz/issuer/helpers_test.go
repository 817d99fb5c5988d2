package issuer_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/argon2"

	"github.com/clearance-gw/clearance/authz/claims"
	"github.com/clearance-gw/clearance/authz/issuer"
	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/revocation"
	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
	"github.com/clearance-gw/clearance/authz/websession"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/testclock"
	"github.com/clearance-gw/clearance/internal/testlog"
)

// Compile-time guards: the real store and revocation set fit the issuer.
var (
	_ issuer.Store       = (*sqlite.Store)(nil)
	_ signing.KeyStore   = (*sqlite.Store)(nil)
	_ issuer.Revocations = (*revocation.Set)(nil)
)

// Test credentials. The backend secret holds every character that needs
// form encoding.
const (
	backendSecret = "s3+cr&t%2F=x y"
	appSecret     = "app-secret"
	thirdSecret   = "third-secret"
	alicePassword = "alice-pw"
	rootPassword  = "root-pw"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func dur(d time.Duration) config.Duration { return config.Duration(d) }

// testConfig is a loaded config: defaults filled as config.Load would.
func testConfig(alg string) *config.Config {
	return &config.Config{
		Issuer:    "https://gw.example",
		Realm:     "clearance",
		Endpoints: config.Endpoints{Token: "/token", Authorize: "/authorize"},
		Tokens: config.Tokens{
			Alg: alg, Audience: "https://api.example",
			AccessTTL: dur(time.Hour), RefreshTTL: dur(720 * time.Hour), A2ATTL: dur(8760 * time.Hour),
			CodeTTL: dur(5 * time.Minute), InvalidScopeStatus: 400,
		},
		Scopes: []string{"user", "fmsdata"},
		Leeway: dur(30 * time.Second),
		Clients: []config.Client{
			{ID: "backend", Name: "Backend", Secret: backendSecret, Grants: []string{"client_credentials"},
				Scopes: []string{"user", "fmsdata"}, AccessTTL: dur(15 * time.Minute)},
			{ID: "app", Name: "First-party app", Secret: appSecret, FirstParty: true,
				Grants: []string{"client_credentials", "password", "refresh_token", "a2a", "admin", "authorization_code"},
				Scopes: []string{"user"}, RedirectURIs: []string{"https://app.example/cb"}},
			{ID: "third", Name: "Third party", Secret: thirdSecret,
				Grants: []string{"password", "refresh_token", "a2a", "admin"}, Scopes: []string{"user"}},
			{ID: "spa", Name: "Single-page app", Grants: []string{"refresh_token", "authorization_code", "client_credentials"},
				Scopes: []string{"user"}, RedirectURIs: []string{"https://spa.example/cb"}},
		},
	}
}

type fixture struct {
	t       testing.TB
	cfg     *config.Config
	path    string
	kek     []byte
	clock   *testclock.Clock
	st      *sqlite.Store
	keys    *signing.Keyring
	revs    *revocation.Set
	reg     *prometheus.Registry
	srv     *issuer.Server
	ts      *httptest.Server
	logs    *testlog.Buffer
	storeOf func(issuer.Store) issuer.Store // wraps the store given to the server
	// throttle, when set, counts the login attempts of the server's
	// authz/login (else its defaults).
	throttle *websession.Throttle
	// login, when set, is the server's Authenticator (over throttle).
	login issuer.Authenticator
}

type option func(*fixture)

func withConfig(f func(*config.Config)) option { return func(fx *fixture) { f(fx.cfg) } }

func withStore(wrap func(issuer.Store) issuer.Store) option {
	return func(fx *fixture) { fx.storeOf = wrap }
}

func newFixture(t testing.TB, opts ...option) *fixture {
	t.Helper()
	kek := make([]byte, signing.KEKSize)
	_, _ = rand.Read(kek)
	fx := &fixture{t: t, cfg: testConfig("ES256"), path: filepath.Join(t.TempDir(), "clearance.db"),
		kek: kek, clock: testclock.New(t0), logs: &testlog.Buffer{}}
	for _, o := range opts {
		o(fx)
	}
	fx.start()
	ctx := context.Background()
	if err := issuer.UpsertClients(ctx, fx.st, fx.cfg); err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{
		{Name: "alice", PasswordHash: cheapHash(alicePassword)},
		{Name: "root", PasswordHash: cheapHash(rootPassword), Admin: true},
	} {
		u.CreatedAt = t0
		if err := fx.st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

// start opens the store at fx.path and builds the keyring, revocation set
// and server on it, as a gateway start does.
func (fx *fixture) start() {
	t := fx.t
	ctx := context.Background()
	st, err := sqlite.Open(ctx, fx.path)
	if err != nil {
		t.Fatal(err)
	}
	fx.st = st
	// Clients read from memory, as a gateway reads them (internal/cli).
	st.CacheClients(fx.clock.Now, 500*time.Millisecond)
	logger := slog.New(slog.NewTextHandler(fx.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ko := signing.KeyringOptionsFor(fx.cfg, fx.kek)
	ko.Now, ko.Logger = fx.clock.Now, logger
	fx.keys, err = signing.NewKeyring(ctx, st, ko)
	if err != nil {
		t.Fatal(err)
	}
	fx.revs = revocation.New(st, revocation.Options{Now: fx.clock.Now})
	if err := fx.revs.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fx.reg = prometheus.NewPedanticRegistry()
	var is issuer.Store = st
	if fx.storeOf != nil {
		is = fx.storeOf(st)
	}
	opts := issuer.Options{Now: fx.clock.Now, Logger: logger, Metrics: issuer.NewMetrics(fx.reg), Revocations: fx.revs}
	opts.UserAuth = fx.login
	if fx.throttle != nil && fx.login == nil {
		if opts.UserAuth, err = login.New(is, login.Options{Throttle: fx.throttle}); err != nil {
			t.Fatal(err)
		}
	}
	fx.srv, err = issuer.New(fx.cfg, is, fx.keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	fx.ts = httptest.NewServer(fx.srv.Handler())
	t.Cleanup(fx.stop)
}

func (fx *fixture) stop() {
	if fx.ts != nil {
		fx.ts.Close()
		fx.ts = nil
	}
	if fx.st != nil {
		fx.st.Close()
		fx.st = nil
	}
}

// restart stops the gateway and starts it again on the same database.
func (fx *fixture) restart() {
	fx.stop()
	fx.start()
}

func (fx *fixture) tokenURL() string { return fx.ts.URL + fx.cfg.Endpoints.Token }

// cheapHash is a valid argon2id PHC string with small parameters, so tests
// do not spend 64 MiB and 100 ms per password check.
func cheapHash(pw string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, 1, 64, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
}

// response is a decoded token-endpoint answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r response) str(k string) string { s, _ := r.body[k].(string); return s }

// post sends a raw request to path.
func (fx *fixture) post(path, contentType, body string, hdr ...string) response {
	fx.t.Helper()
	req, err := http.NewRequest(http.MethodPost, fx.ts.URL+path, strings.NewReader(body))
	if err != nil {
		fx.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return fx.do(req)
}

func (fx *fixture) do(req *http.Request) response {
	fx.t.Helper()
	resp, err := fx.ts.Client().Do(req)
	if err != nil {
		fx.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			fx.t.Fatalf("response is not JSON (%d): %q", resp.StatusCode, b)
		}
	}
	return r
}

// form posts form values to the token endpoint.
func (fx *fixture) form(v url.Values, hdr ...string) response {
	fx.t.Helper()
	return fx.post(fx.cfg.Endpoints.Token, "application/x-www-form-urlencoded", v.Encode(), hdr...)
}

// basic is an Authorization header as x/oauth2 builds it.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func basicRaw(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// verify checks an access token against the JWKS served over HTTP, as
// SPEC §3 shapes it, and returns its claims.
func (fx *fixture) verify(raw string) jwt.Token {
	fx.t.Helper()
	resp, err := fx.ts.Client().Get(fx.ts.URL + "/.well-known/jwks.json")
	if err != nil {
		fx.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	set, err := jwk.Parse(b)
	if err != nil {
		fx.t.Fatalf("JWKS: %v", err)
	}
	tok, err := jwt.ParseString(raw, jwt.WithKeySet(set), jwt.WithClock(jwt.ClockFunc(fx.clock.Now)),
		jwt.WithIssuer(fx.cfg.Issuer), jwt.WithAudience(fx.cfg.Tokens.Audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey), jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey), jwt.WithRequiredClaim(jwt.SubjectKey))
	if err != nil {
		fx.t.Fatalf("token does not verify against the JWKS: %v", err)
	}
	msg, err := jws.ParseString(raw)
	if err != nil {
		fx.t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.Type() != "at+jwt" {
		fx.t.Errorf("typ = %q, want at+jwt", h.Type())
	}
	if _, ok := set.LookupKeyID(h.KeyID()); !ok || h.KeyID() == "" {
		fx.t.Errorf("kid = %q, not in the JWKS", h.KeyID())
	}
	if got := string(h.Algorithm()); got != fx.cfg.Tokens.Alg {
		fx.t.Errorf("alg = %q, want %q", got, fx.cfg.Tokens.Alg)
	}
	if !tok.IssuedAt().Equal(fx.clock.Now().Truncate(time.Second)) {
		fx.t.Errorf("iat = %v, want %v", tok.IssuedAt(), fx.clock.Now())
	}
	if _, ok := tok.Get("client_id"); !ok {
		fx.t.Error("no client_id claim")
	}
	if v, _ := tok.Get("scope"); v == nil {
		fx.t.Error("no scope claim")
	} else if _, ok := v.(string); !ok {
		fx.t.Errorf("scope claim is %T, want a space-delimited string", v)
	}
	return tok
}

func claim(tok jwt.Token, name string) string {
	v, _ := tok.Get(name)
	s, _ := v.(string)
	return s
}

// sgen reads a token's session generation claim (0 when absent).
func sgen(tok jwt.Token) int64 {
	n, err := claims.Micros(tok, claims.SessionGen)
	if err != nil {
		panic(err)
	}
	return n
}

// tokenRevoked asks set whether the token is refused by its jti or its
// session (whole, or its generation), as the guard does.
func tokenRevoked(set issuer.Revocations, tok jwt.Token) bool {
	return set.RevokedToken(tok.JwtID(), claim(tok, "sid"), sgen(tok), "", "", 0, 0, 0)
}

// activeSessions counts the sessions in the store.
func (fx *fixture) activeSessions() int64 {
	fx.t.Helper()
	n, err := fx.st.CountActiveSessions(context.Background(), fx.clock.Now())
	if err != nil {
		fx.t.Fatal(err)
	}
	return n
}

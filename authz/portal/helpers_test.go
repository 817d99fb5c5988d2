package portal

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/entitlement"
	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
	"github.com/clearance-gw/clearance/authz/websession"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/testclock"
)

const testPassword = "correct horse battery staple"

// passwordHash is hashed once: argon2id costs tens of milliseconds.
var passwordHash = sync.OnceValue(func() string {
	h, err := secret.HashPassword(testPassword)
	if err != nil {
		panic(err)
	}
	return h
})

// fakeMinter mints recognisable tokens; a2a tokens get a session in the
// store, as the issuer's do, so they show under Current sessions, and only
// for a client with the a2a grant, as the issuer's rule says.
type fakeMinter struct {
	st  *sqlite.Store
	now func() time.Time

	mu       sync.Mutex
	n        int
	implicit []string // "client user scope" of each implicit mint
}

func (m *fakeMinter) MintA2A(ctx context.Context, clientID, user string) (string, time.Time, error) {
	c, err := m.st.GetClient(ctx, clientID)
	if err != nil {
		return "", time.Time{}, err
	}
	if !slices.Contains(c.Grants, config.GrantA2A) {
		return "", time.Time{}, ErrA2ANotEnabled
	}
	m.mu.Lock()
	m.n++
	n := m.n
	m.mu.Unlock()
	now := m.now().UTC()
	exp := now.Add(365 * 24 * time.Hour)
	s := store.Session{ID: fmt.Sprintf("a2a-session-%d", n), ClientID: clientID, Subject: user, Scope: "user",
		Kind: store.KindA2A, CreatedAt: now, ExpiresAt: exp}
	if err := m.st.CreateSession(ctx, s, nil); err != nil {
		return "", time.Time{}, err
	}
	return fmt.Sprintf("a2a-token-%d", n), exp, nil
}

func (m *fakeMinter) MintImplicit(_ context.Context, clientID, user, scope string) (string, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.implicit = append(m.implicit, clientID+" "+user+" "+scope)
	return "implicit-token", 3600, nil
}

// fakeRevoker revokes and deletes in the store and remembers what it
// revoked and deleted.
type fakeRevoker struct {
	st  *sqlite.Store
	now func() time.Time

	mu      sync.Mutex
	revoked []string
	deleted []string
}

// testTokenLifetime is the longest token lifetime of the fake deletions.
const testTokenLifetime = 8761 * time.Hour

func (r *fakeRevoker) DeleteClient(ctx context.Context, id string) error {
	r.mu.Lock()
	r.deleted = append(r.deleted, id)
	r.mu.Unlock()
	return r.st.DeleteClient(ctx, id, r.now(), testTokenLifetime)
}

func (r *fakeRevoker) deletedIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.deleted...)
}

func (r *fakeRevoker) RevokeSession(ctx context.Context, id string) error {
	r.mu.Lock()
	r.revoked = append(r.revoked, id)
	r.mu.Unlock()
	return r.st.RevokeSession(ctx, id, r.now())
}

func (r *fakeRevoker) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.revoked...)
}

// entitlementConfig is the config of the portal's entitlement rule in
// tests: every portal user may give their clients user and query_mapdata,
// never manage_users unless it is their own scope.
func entitlementConfig() *config.Config {
	return &config.Config{Scopes: []string{"user", "query_mapdata", "manage_users", "fmsdata"},
		Portal: config.Portal{Scopes: []string{"user", "query_mapdata"}}}
}

// testEntitlements applies the entitlement rule under a fixed config, as
// the issuer does under the config in force.
type testEntitlements struct {
	st  *sqlite.Store
	cfg *config.Config
}

func (te testEntitlements) Entitled(ctx context.Context, user string) ([]string, error) {
	u, err := te.st.GetUser(ctx, user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return entitlement.Of(te.cfg, u), nil
}

func (te testEntitlements) ClientScopes(ctx context.Context, c store.Client) ([]string, bool, error) {
	return entitlement.ClientScopes(ctx, te.cfg, te.st, c)
}

type env struct {
	t       testing.TB
	st      *sqlite.Store
	clk     *testclock.Clock
	p       *Portal
	srv     *httptest.Server
	minter  *fakeMinter
	revoker *fakeRevoker
	cookies *websession.Codec
}

func newEnv(t testing.TB, mutate ...func(*Options)) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "clearance.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	codec, err := websession.New([]byte(strings.Repeat("k", 32)), websession.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, clk: clk, cookies: codec,
		minter:  &fakeMinter{st: st, now: clk.Now},
		revoker: &fakeRevoker{st: st, now: clk.Now}}
	auth, err := login.New(st, login.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Now: clk.Now, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Cookies: codec,
		UserAuth: auth,
		Minter:   e.minter, Revoker: e.revoker, Entitlements: testEntitlements{st: st, cfg: entitlementConfig()},
		AuthorizePath: "/authorize", Issuer: "http://gateway.test", CodeTTL: 5 * time.Minute,
	}
	for _, m := range mutate {
		m(&opts)
	}
	e.p, err = New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.p.Handler())
	t.Cleanup(e.srv.Close)
	for _, u := range []string{"alice", "bob"} {
		if err := st.CreateUser(t.Context(), store.User{Name: u, PasswordHash: passwordHash(), CreatedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// addClient registers a client directly in the store.
func (e *env) addClient(c store.Client) store.Client {
	e.t.Helper()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = e.clk.Now()
	}
	if err := e.st.CreateClient(e.t.Context(), c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) client(id string) store.Client {
	e.t.Helper()
	c, err := e.st.GetClient(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see every Location.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) response {
	b.e.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return response{resp, string(body)}
}

func (b *browser) get(path string) response {
	b.e.t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) response {
	b.e.t.Helper()
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf fetches page and returns the CSRF token of its forms.
func (b *browser) csrf(page string) string {
	b.e.t.Helper()
	r := b.get(page)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.e.t.Fatalf("no CSRF token on %s (status %d)", page, r.StatusCode)
	}
	return html.UnescapeString(m[1])
}

// login signs in as user and returns the browser.
func (e *env) login(user string) *browser {
	e.t.Helper()
	b := e.browser()
	tok := b.csrf("/portal/login")
	r := b.post("/portal/login", url.Values{"csrf_token": {tok}, "username": {user}, "password": {testPassword}})
	if r.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login as %s: status %d\n%s", user, r.StatusCode, r.body)
	}
	return b
}

// postForm posts form to path with the CSRF token of page.
func (b *browser) postForm(page, path string, form url.Values) response {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", b.csrf(page))
	return b.post(path, form)
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d\n%s", r.StatusCode, status, r.body)
	}
}

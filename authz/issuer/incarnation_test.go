package issuer_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/clearance-gw/clearance/authz/claims"
	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/issuer"
	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

const opsSecret = "ops-secret"

// allGrants are the grants of the client "ops" the tests below make.
var allGrants = []string{"client_credentials", "password", "refresh_token", "a2a", "admin", "authorization_code"}

// createOps registers the first-party client "ops" with every grant, as
// "clearance client create" does, at created; it returns the CreatedAt the
// store gave it.
func (fx *fixture) createOps(created time.Time) time.Time {
	fx.t.Helper()
	ctx := context.Background()
	c := store.Client{ID: "ops", Name: "Ops", SecretHash: secret.HashSecret(opsSecret), FirstParty: true,
		Grants: allGrants, Scopes: []string{"user"}, RedirectURIs: []string{"https://ops.example/cb"}, CreatedAt: created}
	if err := fx.st.CreateClient(ctx, c); err != nil {
		fx.t.Fatal(err)
	}
	got, err := fx.st.GetClient(ctx, "ops")
	if err != nil {
		fx.t.Fatal(err)
	}
	return got.CreatedAt
}

// createUser adds a user with alicePassword at created and returns the
// CreatedAt the store gave them.
func (fx *fixture) createUser(name string, created time.Time) time.Time {
	fx.t.Helper()
	ctx := context.Background()
	if err := fx.st.CreateUser(ctx, store.User{Name: name, PasswordHash: cheapHash(alicePassword), CreatedAt: created}); err != nil {
		fx.t.Fatal(err)
	}
	u, err := fx.st.GetUser(ctx, name)
	if err != nil {
		fx.t.Fatal(err)
	}
	return u.CreatedAt
}

// newCode stores an authorization code of client for user, made now.
func (fx *fixture) newCode(client, user, redirect string) string {
	fx.t.Helper()
	code, _ := secret.NewToken()
	if err := fx.st.CreateCode(context.Background(), store.AuthCode{Hash: secret.HashSecret(code), ClientID: client, Subject: user,
		RedirectURI: redirect, Scope: "user", SessionID: "sess-" + code[:8], CreatedAt: fx.clock.Now(),
		ExpiresAt: fx.clock.Now().Add(5 * time.Minute)}); err != nil {
		fx.t.Fatal(err)
	}
	return code
}

// creationClaims returns the client_created and user_created claims of
// tok (0 when absent).
func creationClaims(t *testing.T, tok jwt.Token) (client, user int64) {
	t.Helper()
	var err error
	if client, err = claims.Micros(tok, claims.ClientCreated); err != nil {
		t.Fatalf("client_created: %v", err)
	}
	if user, err = claims.Micros(tok, claims.UserCreated); err != nil {
		t.Fatalf("user_created: %v", err)
	}
	return client, user
}

// TestEveryTokenNamesItsClientAndUserCreation: every way the gateway mints
// an access token puts the creation time of its client, and of its user
// when the subject is a user, in the token, to the microsecond.
func TestEveryTokenNamesItsClientAndUserCreation(t *testing.T) {
	fx := newFixture(t, withConfig(func(c *config.Config) { c.Tokens.RefreshOnEveryGrant = true }))
	ctx := context.Background()
	opsMade := fx.createOps(t0.Add(-time.Hour + 123*time.Microsecond)).UnixMicro()
	doraMade := fx.createUser("dora", t0.Add(-time.Minute+456*time.Microsecond)).UnixMicro()
	rootUser, err := fx.st.GetUser(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	ops := []string{"Authorization", basic("ops", opsSecret)}
	password := url.Values{"username": {"dora"}, "password": {alicePassword}}
	grant := func(gt string, v url.Values) response {
		t.Helper()
		v = maps.Clone(v)
		v.Set("grant_type", gt)
		r := fx.form(v, ops...)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", gt, r.status, r.raw)
		}
		return r
	}

	pw := grant("password", password)
	cc := grant("client_credentials", url.Values{})
	code := fx.newCode("ops", "dora", "https://ops.example/cb")
	a2a, err := fx.srv.MintA2A(ctx, "ops", "dora", "cli")
	if err != nil {
		t.Fatal(err)
	}
	implicit, _, err := fx.srv.MintImplicit(ctx, "ops", "dora", "user")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		tok            string
		user           int64
		wantSubjectOps bool
	}{
		{"client_credentials", cc.str("access_token"), 0, true},
		{"client_credentials, refreshed", grant("refresh_token", url.Values{"refresh_token": {cc.str("refresh_token")}}).str("access_token"), 0, true},
		{"password", pw.str("access_token"), doraMade, false},
		{"password, refreshed", grant("refresh_token", url.Values{"refresh_token": {pw.str("refresh_token")}}).str("access_token"), doraMade, false},
		{"authorization_code", grant("authorization_code", url.Values{"code": {code}, "redirect_uri": {"https://ops.example/cb"}}).str("access_token"), doraMade, false},
		{"a2a grant", grant("a2a", password).str("access_token"), doraMade, false},
		{"a2a of the portal and the command line", a2a.AccessToken, doraMade, false},
		{"admin", grant("admin", url.Values{"username": {"root"}, "password": {rootPassword}, "subject": {"dora"}}).str("access_token"), doraMade, false},
		{"implicit", implicit, doraMade, false},
	}
	if rootUser.CreatedAt.UnixMicro() == doraMade {
		t.Fatal("the administrator and the subject were created together: the admin case proves nothing")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := fx.verify(tt.tok)
			client, user := creationClaims(t, tok)
			if client != opsMade || user != tt.user {
				t.Errorf("client_created %d, user_created %d; want %d and %d", client, user, opsMade, tt.user)
			}
			if (tok.Subject() == "ops") != tt.wantSubjectOps {
				t.Errorf("sub %q", tok.Subject())
			}
		})
	}
}

// gatewayGuard is the real guard on the fixture's keys and revocation set,
// as the gateway wires them.
func gatewayGuard(t *testing.T, fx *fixture) func(tok string) bool {
	t.Helper()
	guard, err := guard.NewGuard(t.Context(), fx.cfg, guard.Options{Now: fx.clock.Now, Revocations: fx.revs})
	if err != nil {
		t.Fatal(err)
	}
	var setErr error
	fx.keys.OnChange(func(s jwk.Set) { setErr = guard.SetLocalKeys(s) })
	if setErr != nil {
		t.Fatal(setErr)
	}
	return func(tok string) bool {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, err := guard.Check(r, nil)
		return err == nil
	}
}

// TestDeletedAndCreatedAgainAtOnce: a client and a user deleted and made
// again under the same names, over and over on a clock that does not move,
// never have a token of an earlier incarnation accepted (at the proxy or
// by introspection), and always have the tokens of the current one
// accepted at once.
func TestDeletedAndCreatedAgainAtOnce(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	accepted := gatewayGuard(t, fx)
	active := func(tok string) bool {
		t.Helper()
		r := fx.endpoint("/introspect", url.Values{"token": {tok}}, "ops", opsSecret)
		if r.status != 200 {
			t.Fatalf("introspect: %d %s", r.status, r.raw)
		}
		return r.body["active"] == true
	}
	ops := []string{"Authorization", basic("ops", opsSecret)}
	var old []string
	for i := range 20 {
		fx.createOps(fx.clock.Now())
		fx.createUser("dora", fx.clock.Now())
		cc := fx.form(url.Values{"grant_type": {"client_credentials"}}, ops...).str("access_token")
		pw := fx.form(url.Values{"grant_type": {"password"}, "username": {"dora"}, "password": {alicePassword}}, ops...).str("access_token")
		// dora's token through another client: only her deletion ends it.
		viaApp := fx.form(url.Values{"grant_type": {"password"}, "username": {"dora"}, "password": {alicePassword}},
			"Authorization", basic("app", appSecret)).str("access_token")
		for name, tok := range map[string]string{"client_credentials": cc, "password": pw, "through another client": viaApp} {
			if !accepted(tok) || (name != "through another client" && !active(tok)) {
				t.Fatalf("round %d: the new %s token is refused", i, name)
			}
		}
		for j, tok := range old {
			if accepted(tok) || active(tok) {
				t.Fatalf("round %d: token %d of an earlier incarnation is accepted", i, j)
			}
		}
		old = append(old, cc, pw, viaApp)
		if err := fx.st.DeleteClient(ctx, "ops", fx.clock.Now(), signing.MaxTokenLifetime(fx.cfg)); err != nil {
			t.Fatal(err)
		}
		if err := fx.st.DeleteUser(ctx, "dora", fx.clock.Now(), signing.MaxTokenLifetime(fx.cfg)); err != nil {
			t.Fatal(err)
		}
		if err := fx.revs.Sync(ctx); err != nil { // as the deleting instance does
			t.Fatal(err)
		}
	}
}

// racingStore runs a hook once, after the issuer has read a client or a
// user and before it mints: the moment a concurrent deletion can commit.
type racingStore struct {
	issuer.Store
	mu         sync.Mutex
	clientHook func()
	userHook   func()
}

func (s *racingStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := s.Store.GetClient(ctx, id)
	s.mu.Lock()
	hook := s.clientHook
	s.clientHook = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return c, err
}

func (s *racingStore) GetUser(ctx context.Context, name string) (store.User, error) {
	u, err := s.Store.GetUser(ctx, name)
	s.mu.Lock()
	hook := s.userHook
	s.userHook = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return u, err
}

// TestTokenMintedConcurrentlyWithTheDeletion: the issuer reads the client
// (or the user), the deletion commits and a new client (user) of that name
// is made, then the token is signed: it carries the deleted incarnation's
// creation time and is refused, while the new incarnation's tokens are
// accepted; a refresh token that outlived its user that way does not serve
// the later user of the name.
func TestTokenMintedConcurrentlyWithTheDeletion(t *testing.T) {
	rs := &racingStore{}
	fx := newFixture(t, withStore(func(s issuer.Store) issuer.Store { rs.Store = s; return rs }))
	ctx := context.Background()
	accepted := gatewayGuard(t, fx)
	life := signing.MaxTokenLifetime(fx.cfg)
	fx.createOps(fx.clock.Now())
	ops := []string{"Authorization", basic("ops", opsSecret)}
	syncSet := func() {
		if err := fx.revs.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("client", func(t *testing.T) {
		rs.mu.Lock()
		rs.clientHook = func() {
			if err := fx.st.DeleteClient(ctx, "ops", fx.clock.Now(), life); err != nil {
				t.Error(err)
			}
			fx.createOps(fx.clock.Now())
		}
		rs.mu.Unlock()
		raced := fx.form(url.Values{"grant_type": {"client_credentials"}}, ops...)
		if raced.status != 200 {
			t.Fatalf("token request: %d %s", raced.status, raced.raw)
		}
		syncSet()
		if accepted(raced.str("access_token")) {
			t.Error("a token of the deleted client, signed after its deletion, is accepted")
		}
		if fresh := fx.form(url.Values{"grant_type": {"client_credentials"}}, ops...).str("access_token"); !accepted(fresh) {
			t.Error("the new client's token is refused")
		}
	})

	t.Run("user", func(t *testing.T) {
		fx.createUser("dora", fx.clock.Now())
		rs.mu.Lock()
		rs.userHook = func() { // the password check read dora
			if err := fx.st.DeleteUser(ctx, "dora", fx.clock.Now(), life); err != nil {
				t.Error(err)
			}
			fx.clock.Advance(time.Second) // the new dora comes a second later
			fx.createUser("dora", fx.clock.Now())
		}
		rs.mu.Unlock()
		raced := fx.form(url.Values{"grant_type": {"password"}, "username": {"dora"}, "password": {alicePassword}},
			"Authorization", basic("app", appSecret))
		if raced.status != 200 {
			t.Fatalf("token request: %d %s", raced.status, raced.raw)
		}
		syncSet()
		if accepted(raced.str("access_token")) {
			t.Error("a token of the deleted user, signed after her deletion, is accepted")
		}
		// Its session was stored after the deletion revoked dora's: its
		// refresh token is still there, and must not serve the new dora.
		r := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {raced.str("refresh_token")}},
			"Authorization", basic("app", appSecret))
		if r.status != 400 || r.str("error") != "invalid_grant" {
			t.Errorf("refresh of the deleted dora's session: %d %s, want invalid_grant", r.status, r.raw)
		}
		fresh := fx.form(url.Values{"grant_type": {"password"}, "username": {"dora"}, "password": {alicePassword}},
			"Authorization", basic("app", appSecret))
		if !accepted(fresh.str("access_token")) {
			t.Error("the new dora's token is refused")
		}
		if r := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.str("refresh_token")}},
			"Authorization", basic("app", appSecret)); r.status != 200 || !accepted(r.str("access_token")) {
			t.Errorf("the new dora's refresh: %d %s", r.status, r.raw)
		}
	})
}

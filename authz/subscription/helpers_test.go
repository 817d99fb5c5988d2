package subscription

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/testclock"
	"github.com/clearance-gw/clearance/internal/testissuer"
)

const (
	issuer   = "https://gw.example"
	audience = "https://api.example"
)

// t0 is the fake clock's start.
var t0 = time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)

// newClock is a fake clock at t0.
func newClock() *testclock.Clock { return testclock.New(t0) }

// gateway is a real guard on the gateway's own Ed25519 key, and a key to
// mint its tokens; it also trusts foreignIssuer, whose key it holds too.
type gateway struct {
	guard   *guard.Guard
	key     jwk.Key
	foreign jwk.Key
	clock   *testclock.Clock
}

// foreignIssuer is a trusted issuer: another tenant.
const foreignIssuer = "https://idp.example"

func newGateway(t testing.TB, c *testclock.Clock) *gateway {
	t.Helper()
	k := testissuer.NewKey(t, "k1")
	fk := testissuer.NewKey(t, "idp-1")
	pub, err := jwk.PublicKeyOf(fk)
	if err != nil {
		t.Fatal(err)
	}
	fset := jwk.NewSet()
	fset.AddKey(pub)
	fjson, err := json.Marshal(fset)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Issuer: issuer, Realm: "clearance",
		Tokens: config.Tokens{Alg: "EdDSA", Audience: audience},
		Leeway: config.Duration(30 * time.Second), TokenCacheSize: 100,
		TrustedIssuers: []config.TrustedIssuer{{Issuer: foreignIssuer, JWKS: string(fjson),
			Audience: config.StringOrSet{audience}, Algorithms: []string{"EdDSA"}}},
	}
	g, err := guard.NewGuard(t.Context(), cfg, guard.Options{Now: c.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	set.AddKey(k)
	if err := g.SetLocalKeys(set); err != nil {
		t.Fatal(err)
	}
	return &gateway{guard: g, key: k, foreign: fk, clock: c}
}

// token mints an hour-long access token for sub through client.
func (g *gateway) token(t testing.TB, sub, client string) string {
	t.Helper()
	now := g.clock.Now()
	return testissuer.Mint(t, g.key, map[string]any{
		"iss": issuer, "sub": sub, "aud": []string{audience},
		"iat": now, "exp": now.Add(time.Hour), "jti": sub + "-" + client,
		"client_id": client, "scope": "fmsdata",
	})
}

// foreignToken mints an hour-long token of foreignIssuer for sub through
// client.
func (g *gateway) foreignToken(t testing.TB, sub, client string) string {
	t.Helper()
	now := g.clock.Now()
	return testissuer.Mint(t, g.foreign, map[string]any{
		"iss": foreignIssuer, "sub": sub, "aud": []string{audience},
		"iat": now, "exp": now.Add(time.Hour), "jti": "idp-" + sub + "-" + client,
		"client_id": client, "scope": "fmsdata",
	})
}

// openStore opens a fresh SQLite store with clients and subscriptions:
// alice has fmsdata (active at t0) and an expired charts subscription;
// bob has one that starts tomorrow. Client navtool is owned by alice,
// client orphan by nobody.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "clearance.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, c := range []store.Client{
		{ID: "navtool", Name: "Nav tool", Grants: []string{"client_credentials"}, Scopes: []string{"fmsdata"}, Owner: "alice"},
		{ID: "orphan", Name: "Orphan", Grants: []string{"client_credentials"}, Scopes: []string{"fmsdata"}},
	} {
		c.CreatedAt = t0
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []store.Subscription{
		{User: "alice", Type: "fmsdata", Name: "Navigation Data", DateActive: day(2030, 1, 1), DateExpiry: day(2031, 1, 1).Add(-time.Second)},
		{User: "alice", Type: "charts", Name: "Charts", DateActive: day(2029, 1, 1), DateExpiry: day(2030, 1, 1).Add(-time.Second)},
		{User: "bob", Type: "fmsdata", Name: "Navigation Data", DateActive: t0.Add(24 * time.Hour), DateExpiry: day(2031, 1, 1)},
	} {
		if _, err := st.AddSubscription(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

package attack

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var revocationEntries = regexp.MustCompile(`(?m)^clearance_revocation_entries ([0-9.e+]+)$`)

// revocationEntries reads the gauge clearance_revocation_entries.
func (g *gateway) revocationEntries() int {
	g.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.admin+"/metrics", nil)
	r := g.do(req)
	m := revocationEntries.FindStringSubmatch(r.body)
	if m == nil {
		g.t.Fatalf("no clearance_revocation_entries on /metrics")
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		g.t.Fatal(err)
	}
	return int(n)
}

// Every refresh refuses the access token issued with the old refresh
// token at once, yet a session's rotations cost the revocation set one
// entry, not one per rotation: a client refreshing in a loop must not grow
// every instance's memory (and the store's revocation rows) without bound.
// Reuse of an old refresh token still revokes the whole session.
func TestRefreshLoopHoldsOneRevocationEntryPerSession(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	secret := g.createClient("app", "--first-party", "--grant", "password", "--grant", "refresh_token", "--scope", "charts")
	g.addUser("alice", "alice password 1")
	tok := g.token("app", secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice password 1"}})
	first := tok
	const rotations = 30
	for i := range rotations {
		next := g.token("app", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if r := g.bearer("/v1/charts/x", tok.AccessToken); r.status != http.StatusUnauthorized {
			t.Fatalf("rotation %d: the previous access token got %d, want 401 at once", i+1, r.status)
		}
		if r := g.bearer("/v1/charts/x", next.AccessToken); r.status != http.StatusOK {
			t.Fatalf("rotation %d: the new access token got %d %s", i+1, r.status, r.body)
		}
		tok = next
	}
	if r := g.bearer("/v1/charts/x", first.AccessToken); r.status != http.StatusUnauthorized {
		t.Fatalf("the first access token of the session got %d after %d rotations, want 401", r.status, rotations)
	}
	if n := g.revocationEntries(); n > 1 {
		t.Fatalf("clearance_revocation_entries = %d after %d rotations of one session, want at most 1", n, rotations)
	}

	// Reuse: the whole session goes, its current access token with it,
	// and still one entry.
	if _, code := g.tokenError("app", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}); code != "invalid_grant" {
		t.Fatalf("a reused refresh token got %q, want invalid_grant", code)
	}
	if r := g.bearer("/v1/charts/x", tok.AccessToken); r.status != http.StatusUnauthorized {
		t.Fatalf("after refresh reuse the session's current access token got %d, want 401", r.status)
	}
	if n := g.revocationEntries(); n != 1 {
		t.Fatalf("clearance_revocation_entries = %d after the session was revoked, want 1", n)
	}
}

// A refresh on instance A refuses the previous access token on instance
// B within a second (B learns it from the store's change feed).
func TestClusterRefreshReachesTheOtherInstance(t *testing.T) {
	c := newCluster(t)
	a, b := c.start(), c.start()
	secret := c.createClient("app", "--first-party", "--grant", "password", "--grant", "refresh_token", "--scope", "charts")
	c.cli("alice password 1\n", "user", "add", "alice")
	tok := a.token("app", secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice password 1"}})
	for i := range 10 {
		if r := b.bearer("/v1/charts/x", tok.AccessToken); r.status != http.StatusOK {
			t.Fatalf("round %d: B before the refresh: %d %s", i, r.status, r.body)
		}
		next := a.token("app", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		start := time.Now()
		for b.bearer("/v1/charts/x", tok.AccessToken).status != http.StatusUnauthorized {
			if time.Since(start) > time.Second {
				t.Fatalf("round %d: B still accepts the rotated-out access token after %v", i, time.Since(start))
			}
			time.Sleep(2 * time.Millisecond)
		}
		tok = next
	}
	if n := b.revocationEntries(); n > 1 {
		t.Fatalf("B holds %d revocation entries after 10 rotations of one session, want at most 1", n)
	}
}

// preflightAllowed reports whether g answers a CORS preflight from origin
// for the charts route with that origin allowed.
func (g *gateway) preflightAllowed(origin string) bool {
	g.t.Helper()
	pre, _ := http.NewRequest(http.MethodOptions, g.base+"/v1/charts/x", nil)
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "GET")
	pre.Header.Set("Access-Control-Request-Headers", "authorization")
	return g.do(pre).header.Get("Access-Control-Allow-Origin") == origin
}

// A client created or deleted with the command line (another process on
// the shared database) reaches both instances' origin views within a
// second, through the change feed, not a reload of every client.
func TestClusterClientChangeReachesEveryInstance(t *testing.T) {
	c := newCluster(t)
	a, b := c.start(), c.start()
	const origin = "https://web.example"
	if a.preflightAllowed(origin) || b.preflightAllowed(origin) {
		t.Fatal("a preflight from an origin no client has was allowed")
	}
	c.createClient("web", "--grant", "client_credentials", "--scope", "charts", "--origin", origin)
	for _, g := range []*gateway{a, b} {
		eventuallyWithin(t, time.Second, "the new client's origin allowed", func() bool { return g.preflightAllowed(origin) })
	}
	c.cli("", "client", "delete", "web")
	for _, g := range []*gateway{a, b} {
		eventuallyWithin(t, time.Second, "the deleted client's origin refused", func() bool { return !g.preflightAllowed(origin) })
	}
}

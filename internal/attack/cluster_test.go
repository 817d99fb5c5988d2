package attack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearance-gw/clearance/internal/cli"
	"github.com/clearance-gw/clearance/internal/testgateway"
	"github.com/clearance-gw/clearance/internal/testpg"
)

// Several gateways on one PostgreSQL database (SPEC §8): the races that
// bit other authorization servers when they ran more than one instance,
// each played against two real instances.

// cluster is the shared part of several gateways: one database, one key
// encryption key, one upstream and one trusted issuer.
type cluster struct {
	t   *testing.T
	dsn string
	kek string
	up  *upstream
	ext *extIssuer
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	raw := make([]byte, 32)
	rand.Read(raw)
	return &cluster{t: t, dsn: testpg.DB(t), kek: base64.StdEncoding.EncodeToString(raw),
		up: newUpstream(t), ext: newExtIssuer(t)}
}

func (c *cluster) env(name string) (string, bool) {
	switch name {
	case "CLEARANCE_KEY_ENCRYPTION_KEY":
		return c.kek, true
	case "PG_DSN":
		return c.dsn, true
	}
	return "", false
}

// config writes one instance's gateway.yaml (the DSN comes from the
// environment, as an operator's would).
func (c *cluster) config() string {
	c.t.Helper()
	dir := c.t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: %q
store: {driver: postgres, dsn: "${PG_DSN}"}
scopes: [charts, airports]
routes:
  - name: charts
    path: /v1/charts/
    upstream: %s
    scopes: [charts]
trusted_issuers:
  - issuer: %s
    jwks_url: %s/jwks.json
    audience: %s
    algorithms: [EdDSA]
server: {shutdown_grace: 2s}
`, gatewayIssuer, c.up.srv.URL, c.ext.URL, c.ext.JWKSURL, extAudience)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// start runs one more instance.
func (c *cluster) start() *gateway {
	c.t.Helper()
	path := c.config()
	gw := testgateway.Start(c.t, path, testgateway.Options{LookupEnv: c.env, LogOnFailure: true})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c.t.Cleanup(tr.CloseIdleConnections)
	return &gateway{t: c.t, base: gw.Public(), admin: gw.Admin(), host: gw.Addrs.Public,
		cfg: path, logs: gw.Logs, up: c.up, ext: c.ext,
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// cli runs one clearance command on the cluster's database.
func (c *cluster) cli(stdin string, args ...string) string {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Now: time.Now, LookupEnv: c.env}
	args = append(args, "--config", c.config())
	if code := cli.Run(c.t.Context(), args, env); code != 0 {
		c.t.Fatalf("clearance %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

func (c *cluster) createClient(id string, args ...string) string {
	c.t.Helper()
	out := c.cli("", append([]string{"client", "create", "--id", id, "--name", id, "--json"}, args...)...)
	var res struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		c.t.Fatalf("client create --json: %v\n%s", err, out)
	}
	return res.Secret
}

// kids returns the signing keys in the database.
func (c *cluster) kids() []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT kid FROM signing_keys ORDER BY created_at`)
	kids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		c.t.Fatal(err)
	}
	return kids
}

// kidOf returns the kid in a token's header.
func kidOf(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := segments(t, tok)
	kid, _ := h["kid"].(string)
	return kid
}

// Two instances started at once on an empty database: one signing key,
// and both sign with it (Hydra generated a key pair per instance, and
// every token one instance signed failed on the other).
func TestClusterStartTogetherMakesOneSigningKey(t *testing.T) {
	c := newCluster(t)
	var (
		wg sync.WaitGroup
		gs [2]*gateway
	)
	for i := range gs {
		wg.Go(func() { gs[i] = c.start() })
	}
	wg.Wait()
	if kids := c.kids(); len(kids) != 1 {
		t.Fatalf("signing keys after two instances started at once: %q, want exactly one", kids)
	}
	secret := c.createClient("svc", "--grant", "client_credentials", "--scope", "charts")
	cc := url.Values{"grant_type": {"client_credentials"}}
	tokA, tokB := gs[0].token("svc", secret, cc).AccessToken, gs[1].token("svc", secret, cc).AccessToken
	if a, b := kidOf(t, tokA), kidOf(t, tokB); a != b || a != c.kids()[0] {
		t.Fatalf("instances sign with kids %q and %q, want both %q", a, b, c.kids()[0])
	}
	for _, g := range gs {
		for _, tok := range []string{tokA, tokB} {
			if r := g.bearer("/v1/charts/x", tok); r.status != http.StatusOK {
				t.Fatalf("a token of the other instance: %d %s", r.status, r.body)
			}
		}
	}
}

// Two instances refreshing one refresh token at the same moment: exactly
// one succeeds, the other gets invalid_grant, never a 500 (Hydra #3604
// answered such pairs with a mix of 400, 401 and 500).
func TestClusterConcurrentRefreshOneWins(t *testing.T) {
	c := newCluster(t)
	a, b := c.start(), c.start()
	secret := c.createClient("app", "--first-party", "--grant", "password", "--grant", "refresh_token", "--scope", "charts")
	c.cli("alice password 1\n", "user", "add", "alice")
	pw := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice password 1"}}
	for round := range 15 {
		rt := a.token("app", secret, pw).RefreshToken
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		var (
			wg  sync.WaitGroup
			res [2]response
		)
		for i, g := range []*gateway{a, b} {
			wg.Go(func() { res[i] = g.postForm("/token", f, "app", secret) })
		}
		wg.Wait()
		wins := 0
		for _, r := range res {
			switch {
			case r.status == http.StatusOK:
				wins++
			case r.status == http.StatusBadRequest && parseToken(t, r).Error == "invalid_grant":
			default:
				t.Fatalf("round %d: a concurrent refresh got %d %s, want 200 or 400 invalid_grant", round, r.status, r.body)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d of two concurrent refreshes succeeded, want exactly one", round, wins)
		}
	}
}

// One authorization code redeemed on two instances at once: one exchange
// wins, and the loser's replay revokes the session the winner got.
func TestClusterConcurrentCodeExchange(t *testing.T) {
	c := newCluster(t)
	a, b := c.start(), c.start()
	const cb = "https://app.example/cb"
	secret := c.createClient("web", "--grant", "authorization_code", "--grant", "refresh_token",
		"--redirect-uri", cb, "--scope", "charts")
	c.cli("alice password 1\n", "user", "add", "alice")
	br := a.browser()
	a.login(br, "alice", "alice password 1", "")
	verifier, challenge := pkce("a-verifier-that-is-long-enough-to-be-valid-0123456789")
	for round := range 5 {
		code := a.code(br, "web", cb, challenge, "charts")
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}, "code_verifier": {verifier}}
		var (
			wg  sync.WaitGroup
			res [2]response
		)
		for i, g := range []*gateway{a, b} {
			wg.Go(func() { res[i] = g.postForm("/token", f, "web", secret) })
		}
		wg.Wait()
		var won *tokenResponse
		for _, r := range res {
			switch {
			case r.status == http.StatusOK:
				if won != nil {
					t.Fatalf("round %d: both exchanges of one code succeeded", round)
				}
				tr := parseToken(t, r)
				won = &tr
			case r.status == http.StatusBadRequest && parseToken(t, r).Error == "invalid_grant":
			default:
				t.Fatalf("round %d: a concurrent exchange got %d %s, want 200 or 400 invalid_grant", round, r.status, r.body)
			}
		}
		if won == nil {
			// Both lost is allowed only if the replay revoked a session
			// that had not been created yet; the code gives nothing.
			continue
		}
		for _, g := range []*gateway{a, b} {
			eventuallyWithin(t, time.Second, "the winner's access token is refused after the replay", func() bool {
				return g.bearer("/v1/charts/x", won.AccessToken).status == http.StatusUnauthorized
			})
		}
		if st, e := b.tokenError("web", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {won.RefreshToken}}); e != "invalid_grant" {
			t.Fatalf("round %d: the winner's refresh token after the replay: %d %s", round, st, e)
		}
	}
}

// A key rotated on A: tokens B signs after the activation delay carry the
// new key, and verify on A and on B.
func TestClusterKeyRotation(t *testing.T) {
	c := newCluster(t)
	a, b := c.start(), c.start()
	secret := c.createClient("svc", "--grant", "client_credentials", "--scope", "charts")
	cc := url.Values{"grant_type": {"client_credentials"}}
	before := kidOf(t, b.token("svc", secret, cc).AccessToken)
	c.cli("", "keys", "rotate")
	kids := c.kids()
	if len(kids) != 2 || kids[0] != before {
		t.Fatalf("keys after a rotation: %q, want %q and a new one", kids, before)
	}
	var tok string
	// The new key signs after the activation delay (2 s) and one reload.
	eventuallyWithin(t, 5*time.Second, "B signs with the rotated-in key", func() bool {
		tok = b.token("svc", secret, cc).AccessToken
		return kidOf(t, tok) == kids[1]
	})
	for name, g := range map[string]*gateway{"A": a, "B": b} {
		if r := g.bearer("/v1/charts/x", tok); r.status != http.StatusOK {
			t.Fatalf("%s refuses a token B signed with the new key: %d %s", name, r.status, r.body)
		}
	}
}

// A revocation on A is refused on B within one second; the test reports
// how long it took (p50 and p99 of 100 tries).
func TestClusterRevocationReachesTheOtherInstance(t *testing.T) {
	c := newCluster(t)
	a, b := c.start(), c.start()
	secret := c.createClient("svc", "--grant", "client_credentials", "--scope", "charts")
	cc := url.Values{"grant_type": {"client_credentials"}}
	const tries = 100
	var took []time.Duration
	for range tries {
		tok := a.token("svc", secret, cc).AccessToken
		if r := b.bearer("/v1/charts/x", tok); r.status != http.StatusOK {
			t.Fatalf("B before the revocation: %d %s", r.status, r.body)
		}
		start := time.Now()
		if r := a.postForm("/revoke", url.Values{"token": {tok}}, "svc", secret); r.status != http.StatusOK {
			t.Fatalf("revoke on A: %d %s", r.status, r.body)
		}
		for b.bearer("/v1/charts/x", tok).status != http.StatusUnauthorized {
			if time.Since(start) > time.Second {
				t.Fatalf("B still accepts a token revoked on A after %v", time.Since(start))
			}
			time.Sleep(2 * time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("revoked on A, refused on B after: p50 %v, p99 %v, max %v", took[tries/2], took[tries*99/100-1], took[tries-1])
}

// eventuallyWithin polls cond until limit.
func eventuallyWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

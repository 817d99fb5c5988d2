package attack

import (
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/testpg"
)

// The database goes away under load and comes back: the proxy keeps
// validating cached tokens from memory, the token endpoint answers 503
// (never 500, never a hang), /readyz turns unready within 2 s, and
// everything recovers by itself within 5 s of the database's return.
func TestClusterDatabaseGoesAway(t *testing.T) {
	pg, err := testpg.StartCluster()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("a PostgreSQL cluster of its own is needed under CI: %v", err)
		}
		t.Skipf("skipping: cannot start a PostgreSQL cluster to stop and restart (%v)", err)
	}
	t.Cleanup(func() { pg.Stop() })
	c := newCluster(t)
	c.dsn = (&testpg.Server{DSN: pg.DSN()}).NewDB(t)
	a, b := c.start(), c.start()
	secret := c.createClient("svc", "--grant", "client_credentials", "--scope", "charts")
	cc := url.Values{"grant_type": {"client_credentials"}}
	tokA, tokB := a.token("svc", secret, cc).AccessToken, b.token("svc", secret, cc).AccessToken

	var (
		proxied, proxyFailures, serverErrors atomic.Int64
		stop                                 = make(chan struct{})
		wg                                   sync.WaitGroup
	)
	for i := range 4 {
		g, tok := a, tokB
		if i%2 == 1 {
			g, tok = b, tokA
		}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := g.bearer("/v1/charts/x", tok)
				proxied.Add(1)
				if r.status != http.StatusOK {
					proxyFailures.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	ready := func(g *gateway) int {
		req, _ := http.NewRequest(http.MethodGet, g.admin+"/readyz", nil)
		return g.do(req).status
	}
	tokenStatus := func(g *gateway) int {
		start := time.Now()
		r := g.postForm("/token", cc, "svc", secret)
		if r.status >= 500 && r.status != http.StatusServiceUnavailable {
			serverErrors.Add(1)
			t.Errorf("token endpoint: %d %s", r.status, r.body)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("token endpoint took %v with the database away", d)
		}
		return r.status
	}

	time.Sleep(200 * time.Millisecond)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	for _, g := range []*gateway{a, b} {
		eventuallyWithin(t, 2*time.Second, "/readyz unready with the database away", func() bool {
			return ready(g) == http.StatusServiceUnavailable
		})
		if st := tokenStatus(g); st != http.StatusServiceUnavailable {
			t.Errorf("token endpoint with the database away: %d, want 503", st)
		}
	}
	time.Sleep(time.Until(down.Add(3 * time.Second)))
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*gateway{a, b} {
		eventuallyWithin(t, 5*time.Second, "recovered after the database returned", func() bool {
			return ready(g) == http.StatusOK && tokenStatus(g) == http.StatusOK
		})
	}
	close(stop)
	wg.Wait()
	t.Logf("%d proxied requests with cached tokens during the outage, %d failed; %d token-endpoint 5xx other than 503",
		proxied.Load(), proxyFailures.Load(), serverErrors.Load())
	if n := proxyFailures.Load(); n != 0 {
		t.Errorf("%d proxied requests with cached tokens failed while the database was away, want 0", n)
	}
}

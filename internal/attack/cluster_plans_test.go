package attack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearance-gw/clearance/internal/cli"
	"github.com/clearance-gw/clearance/internal/testclock"
	"github.com/clearance-gw/clearance/internal/testgateway"
)

// Plans on several instances (SPEC §11): with PostgreSQL every instance
// adds its counts to the store at least once a second and reads back the
// totals of all, so a quota is shared and two instances together overshoot
// it by no more than the traffic of one flush.

// sharedQuota is the daily quota of the plan every client of these tests
// is on; the plan has no rate, so only the quota refuses.
const sharedQuota = 10

const clusterPlansConfig = `plans:
  - {name: shared, quota: 10/day}
default_plan: shared
`

// planCluster is a cluster whose instances and commands run on one fake
// clock (which stands still: the day, and so the quota's period, does not
// end during a test). The counts are still written by each instance's
// once-a-second loop, on the real clock.
type planCluster struct {
	*cluster
	clock *testclock.Clock
}

func newPlanCluster(t *testing.T) *planCluster {
	t.Helper()
	return &planCluster{cluster: newCluster(t), clock: testclock.New(time.Now().UTC().Truncate(time.Second))}
}

// config writes one instance's gateway.yaml with the plans.
func (c *planCluster) config() string {
	c.t.Helper()
	path := c.cluster.config()
	src, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(path, append(src, clusterPlansConfig...), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// plannedGateway is one running instance, which the test may stop.
type plannedGateway struct {
	*gateway
	tg *testgateway.Gateway
}

func (c *planCluster) start() *plannedGateway {
	c.t.Helper()
	path := c.config()
	tg := testgateway.Start(c.t, path, testgateway.Options{LookupEnv: c.env, Now: c.clock.Now, LogOnFailure: true})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c.t.Cleanup(tr.CloseIdleConnections)
	return &plannedGateway{tg: tg, gateway: &gateway{t: c.t, base: tg.Public(), admin: tg.Admin(), host: tg.Addrs.Public,
		cfg: path, logs: tg.Logs, up: c.up, ext: c.ext,
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}}
}

// cli runs one command with the plans, on the fake clock.
func (c *planCluster) cli(args ...string) string {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Now: c.clock.Now, LookupEnv: c.env}
	args = append(args, "--config", c.config())
	if code := cli.Run(c.t.Context(), args, env); code != 0 {
		c.t.Fatalf("clearance %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// stored is the count of today the instances have written for a client.
func (c *planCluster) stored(clientID string) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	if err := conn.QueryRow(ctx, `SELECT COALESCE(SUM(count), 0)::bigint FROM usage WHERE key = $1 AND day = $2`,
		clientID, c.clock.Now().Format(time.DateOnly)).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// toMidnight is the quota's reset as the gateways must give it: the
// seconds to the end of the fake clock's UTC day, rounded up.
func (c *planCluster) toMidnight() int64 {
	now := c.clock.Now()
	end := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return int64((end.Sub(now) + time.Second - 1) / time.Second)
}

type usageReport struct {
	Plan      string `json:"plan"`
	Quota     string `json:"quota"`
	QuotaUsed int64  `json:"quota_used"`
	QuotaLeft *int64 `json:"quota_left"`
	Days      []struct {
		Date     string `json:"date"`
		Requests int64  `json:"requests"`
	} `json:"days"`
}

func (c *planCluster) usage(clientID string) usageReport {
	c.t.Helper()
	out := c.cli("usage", "--client", clientID, "--days", "1", "--json")
	var u usageReport
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		c.t.Fatalf("usage --json: %v\n%s", err, out)
	}
	return u
}

// TestClusterPlanQuotaIsShared: one client on a 10-a-day plan calls A and
// B in turn, one request to each per round, and each round waits until
// both instances have written what they forwarded (the "once a second" of
// SPEC §11), so one round is one flush of traffic.
//
// What the design guarantees, and the test asserts:
//   - no request is refused while fewer than the quota were forwarded
//     (an instance's view of the count is never ahead of the truth);
//   - an instance that refused once refuses for the rest of the day;
//   - an instance's view lags the other's only by what the other counted
//     since its own last read of the totals, which follows its own write
//     (at most the other's last two rounds when that read is still under
//     way); so both together forward at most quota + 2, one round of
//     traffic, and then both refuse with quota_exceeded until midnight;
//   - the store, and so "clearance usage", holds the combined count, and a
//     new instance started on it refuses at once.
func TestClusterPlanQuotaIsShared(t *testing.T) {
	c := newPlanCluster(t)
	a, b := c.start(), c.start()
	secret := c.createClient("svc", "--grant", "client_credentials", "--scope", "charts")
	tok := a.clientCredentials("svc", secret)

	before := c.up.count()
	forwarded := func() int { return c.up.count() - before }
	refusedAt := map[string]int{} // instance -> round of its first refusal
	var round int
	for round = 1; ; round++ {
		if round > sharedQuota/2+4 {
			t.Fatalf("after %d rounds (%d forwarded) the instances still forward: refusals %v", round-1, forwarded(), refusedAt)
		}
		refused := 0
		for _, g := range []struct {
			name string
			gw   *plannedGateway
		}{{"A", a}, {"B", b}} {
			sofar := forwarded()
			r := g.gw.bearer("/v1/charts/x", tok)
			switch r.status {
			case http.StatusOK:
				if first, ok := refusedAt[g.name]; ok {
					t.Fatalf("round %d: %s forwarded again after refusing in round %d", round, g.name, first)
				}
			case http.StatusTooManyRequests:
				wantError(t, r, "quota_exceeded")
				if sofar < sharedQuota {
					t.Fatalf("round %d: %s refused with only %d of %d forwarded", round, g.name, sofar, sharedQuota)
				}
				if _, ok := refusedAt[g.name]; !ok {
					refusedAt[g.name] = round
				}
				refused++
			default:
				t.Fatalf("round %d: %s answered %d %s", round, g.name, r.status, r.body)
			}
		}
		// Both instances have written this round's counts.
		want := int64(forwarded())
		eventuallyWithin(t, 5*time.Second, "the round's counts reach the store", func() bool { return c.stored("svc") == want })
		if refused == 2 {
			break
		}
	}
	total := forwarded()
	t.Logf("quota %d: the two instances forwarded %d; A refused from round %d, B from round %d",
		sharedQuota, total, refusedAt["A"], refusedAt["B"])
	if total < sharedQuota || total > sharedQuota+2 {
		t.Fatalf("the two instances forwarded %d requests on a quota of %d; want %d to %d (one round of traffic over)",
			total, sharedQuota, sharedQuota, sharedQuota+2)
	}

	// Both refuse, until the end of the day, and forward nothing more.
	for name, g := range map[string]*plannedGateway{"A": a, "B": b} {
		r := g.bearer("/v1/charts/x", tok)
		wantError(t, r, "quota_exceeded")
		if got := r.header.Get("Retry-After"); got != strconv.FormatInt(c.toMidnight(), 10) {
			t.Errorf("%s: Retry-After %q, want %d (to midnight UTC)", name, got, c.toMidnight())
		}
		if q := rateLimit(t, r.header.Get("RateLimit"))["quota"]; q["r"] != 0 {
			t.Errorf("%s: RateLimit quota %v, want r=0", name, q)
		}
	}
	if forwarded() != total {
		t.Fatalf("a refused request was forwarded: %d, then %d", total, forwarded())
	}

	// The usage command reads the combined count from the store.
	u := c.usage("svc")
	if u.Plan != "shared" || u.Quota != "10/day" || u.QuotaUsed != int64(total) || u.QuotaLeft == nil || *u.QuotaLeft != 0 {
		t.Errorf("usage = %+v, want plan shared, quota 10/day, %d used, 0 left", u, total)
	}
	if len(u.Days) != 1 || u.Days[0].Date != c.clock.Now().Format(time.DateOnly) || u.Days[0].Requests != int64(total) {
		t.Errorf("usage days = %+v, want today with %d", u.Days, total)
	}

	// A restarted instance keeps the count: it reads it at start.
	a.tg.Stop()
	a2 := c.start()
	r := a2.bearer("/v1/charts/x", tok)
	wantError(t, r, "quota_exceeded")
	if forwarded() != total || c.stored("svc") != int64(total) {
		t.Fatalf("after a restart: %d forwarded, %d stored; want %d both", forwarded(), c.stored("svc"), total)
	}
}

// TestClusterPlanCountsWrittenAtShutdown: an instance stopped right after
// forwarding (most likely before its first flush) has written its counts
// by the time it has stopped, and the instance started in its place goes
// on from that count.
func TestClusterPlanCountsWrittenAtShutdown(t *testing.T) {
	c := newPlanCluster(t)
	a := c.start()
	secret := c.createClient("svc", "--grant", "client_credentials", "--scope", "charts")
	tok := a.clientCredentials("svc", secret)
	const sent = 4
	for i := range sent {
		if r := a.bearer("/v1/charts/x", tok); r.status != http.StatusOK {
			t.Fatalf("request %d on A: %d %s", i+1, r.status, r.body)
		}
	}
	a.tg.Stop()
	if n := c.stored("svc"); n != sent {
		t.Fatalf("A stopped after forwarding %d: the store holds %d", sent, n)
	}

	// The new instance read the count at start: its first answer tells
	// what is left after it.
	a2 := c.start()
	r := a2.bearer("/v1/charts/x", tok)
	if r.status != http.StatusOK {
		t.Fatalf("on the new instance: %d %s", r.status, r.body)
	}
	if q := rateLimit(t, r.header.Get("RateLimit"))["quota"]; q["r"] != sharedQuota-sent-1 {
		t.Fatalf("new instance after %d counted elsewhere: RateLimit quota %v, want r=%d", sent, q, sharedQuota-sent-1)
	}
}

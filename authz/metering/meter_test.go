package metering

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/testclock"
)

// memUsage is an in-memory store.Usage shared by "instances"; fail makes
// AddUsage fail.
type memUsage struct {
	mu     sync.Mutex
	counts map[string]map[string]int64 // key -> YYYY-MM-DD -> count
	fail   bool
	adds   int
	// inAdd, when set, is called by AddUsage after it has stored the
	// counts and before it answers, as a database that commits and then
	// sees its caller's context end does.
	inAdd func(ctx context.Context) error
}

func newMemUsage() *memUsage { return &memUsage{counts: map[string]map[string]int64{}} }

func (s *memUsage) AddUsage(ctx context.Context, counts []store.UsageCount) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("store down")
	}
	s.adds++
	for _, c := range counts {
		if s.counts[c.Key] == nil {
			s.counts[c.Key] = map[string]int64{}
		}
		s.counts[c.Key][c.Day.UTC().Format(time.DateOnly)] += c.Count
	}
	if s.inAdd != nil {
		return s.inAdd(ctx)
	}
	return nil
}

func (s *memUsage) UsageTotals(_ context.Context, keys []string, day time.Time) (map[string]store.UsageTotal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := day.UTC().Format(time.DateOnly)
	out := map[string]store.UsageTotal{}
	add := func(k string) {
		var t store.UsageTotal
		for dd, n := range s.counts[k] {
			if dd[:7] == d[:7] && dd <= d {
				t.Month += n
				if dd == d {
					t.Day += n
				}
			}
		}
		if t.Month > 0 {
			out[k] = t
		}
	}
	if keys == nil {
		for k := range s.counts {
			add(k)
		}
	}
	for _, k := range keys {
		add(k)
	}
	return out, nil
}

func (s *memUsage) day(key, day string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[key][day]
}

// planView maps client ids to plan names.
type planView map[string]string

func (v planView) PlanOf(id string) string { return v[id] }

func testConfig() *config.Config {
	return &config.Config{
		Plans: []config.Plan{
			{Name: "free", Rate: "2/s", Quota: "5/day"},
			{Name: "pro", Rate: "60/min", Quota: "100/month"},
			{Name: "open"},
		},
		DefaultPlan: "free",
	}
}

type fixture struct {
	clk   *testclock.Clock
	st    *memUsage
	m     *Meter
	reg   *prometheus.Registry
	view  planView
	start time.Time
}

func newFixture(t testing.TB, st *memUsage, start time.Time) *fixture {
	t.Helper()
	f := &fixture{clk: testclock.New(start), st: st, reg: prometheus.NewPedanticRegistry(),
		view: planView{"pro-app": "pro", "open-app": "open"}, start: start}
	f.m = New(st, testConfig(), Options{Now: f.clk.Now, Registerer: f.reg, Plans: f.view})
	if err := f.m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) take(client string) Result { return f.m.Take("", client, f.clk.Now()) }

// 2026-03-31 23:59:00 UTC: a minute before both a day and a month end.
var lastMinute = time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)

func TestRateIsATokenBucket(t *testing.T) {
	f := newFixture(t, newMemUsage(), time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	for i, want := range []int64{1, 0} {
		r := f.take("app")
		if r.Outcome != Allowed || r.RateRemaining != want || r.RateReset != 1 {
			t.Fatalf("request %d: %+v, want allowed with r=%d t=1", i+1, r, want)
		}
	}
	r := f.take("app")
	if r.Outcome != RateLimited || r.RetryAfter != 1 || r.RateRemaining != 0 {
		t.Fatalf("third request in the same instant: %+v", r)
	}
	if r.QuotaRemaining != 3 {
		t.Errorf("a refused request counted: quota remaining %d, want 3", r.QuotaRemaining)
	}
	f.clk.Advance(500 * time.Millisecond) // one token back (2/s)
	if r := f.take("app"); r.Outcome != Allowed || r.RateRemaining != 0 {
		t.Fatalf("after half a second: %+v", r)
	}
	f.clk.Advance(10 * time.Second) // never more than a burst (one window)
	for range 2 {
		if r := f.take("app"); r.Outcome != Allowed {
			t.Fatalf("after a pause: %+v", r)
		}
	}
	if r := f.take("app"); r.Outcome != QuotaExceeded {
		t.Fatalf("sixth counted request of the day: %+v, want quota_exceeded", r)
	}

	// A slow rate: 60/min is a token a second, Retry-After whole seconds.
	for range 60 {
		if r := f.take("pro-app"); r.Outcome != Allowed {
			t.Fatalf("pro burst: %+v", r)
		}
	}
	f.clk.Advance(300 * time.Millisecond)
	if r := f.take("pro-app"); r.Outcome != RateLimited || r.RetryAfter != 1 {
		t.Fatalf("pro over its burst: %+v", r)
	}
	if got := testutil.ToFloat64(f.m.m.requests.WithLabelValues("free", "rate_limited")); got != 1 {
		t.Errorf("clearance_metered_requests_total{free,rate_limited} = %v", got)
	}
	if got := testutil.ToFloat64(f.m.m.requests.WithLabelValues("free", "allowed")); got != 5 {
		t.Errorf("clearance_metered_requests_total{free,allowed} = %v", got)
	}
}

func TestQuotaPeriodsAndRetryAfter(t *testing.T) {
	f := newFixture(t, newMemUsage(), lastMinute)
	for range 5 {
		f.clk.Advance(time.Second)
		if r := f.take("app"); r.Outcome != Allowed {
			t.Fatalf("%+v", r)
		}
	}
	r := f.take("app")
	if r.Outcome != QuotaExceeded || r.RetryAfter != 55 || r.QuotaReset != 55 || r.QuotaRemaining != 0 {
		t.Fatalf("over the day's quota at 23:59:05: %+v, want Retry-After 55", r)
	}
	if r.RateRemaining != 1 {
		t.Errorf("a request over quota took a token: %+v, want the 1 left by the last request", r)
	}
	f.clk.Set(lastMinute.Add(time.Minute)) // midnight: a new day
	if r := f.take("app"); r.Outcome != Allowed || r.QuotaRemaining != 4 || r.QuotaReset != 86400 {
		t.Fatalf("the next day: %+v", r)
	}

	// The monthly quota resets on the 1st.
	g := newFixture(t, newMemUsage(), lastMinute.Add(-30*24*time.Hour)) // 1 March
	g.clk.Set(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	for i := range 100 {
		g.clk.Advance(time.Second)
		if r := g.take("pro-app"); r.Outcome != Allowed {
			t.Fatalf("pro request %d: %+v", i+1, r)
		}
	}
	g.clk.Set(lastMinute)
	if r := g.take("pro-app"); r.Outcome != QuotaExceeded || r.RetryAfter != 60 {
		t.Fatalf("month used up on the 31st: %+v", r)
	}
	g.clk.Set(lastMinute.Add(time.Minute))
	if r := g.take("pro-app"); r.Outcome != Allowed || r.QuotaRemaining != 99 || r.QuotaReset != 30*86400 {
		t.Fatalf("1 April: %+v", r)
	}

	// No plan limits: counted, never refused, no fields.
	r = f.take("open-app")
	if r.Outcome != Allowed || r.Plan.Limited() || string(r.AppendRateLimit(nil)) != "" {
		t.Fatalf("open plan: %+v", r)
	}
}

func TestUnmeteredWithoutPlan(t *testing.T) {
	st := newMemUsage()
	m := New(st, &config.Config{Plans: []config.Plan{{Name: "p", Rate: "1/s"}}}, Options{})
	if r := m.Take("", "app", time.Now()); r.Metered() || r.Refused() {
		t.Fatalf("no default plan: %+v", r)
	}
	if m.Clients() != 0 {
		t.Fatal("an unmetered client is held in memory")
	}
}

func TestFieldsAsTheDraftWritesThem(t *testing.T) {
	f := newFixture(t, newMemUsage(), time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC))
	r := f.take("app")
	if r.Plan.Policy != `"rate";q=2;w=1, "quota";q=5;w=86400` {
		t.Errorf("policy %q", r.Plan.Policy)
	}
	if got := r.RateLimit(); got != `"rate";r=1;t=1, "quota";r=4;t=3600` {
		t.Errorf("RateLimit %q", got)
	}
	p := f.m.PlanFor("", "pro-app")
	if p.Policy != `"rate";q=60;w=60, "quota";q=100;w=2592000` {
		t.Errorf("pro policy %q", p.Policy)
	}
	f.m.Update(&config.Config{Plans: []config.Plan{{Name: "free", Quota: "7/day"}}, DefaultPlan: "free"})
	r = f.take("app")
	if r.Plan.Policy != `"quota";q=7;w=86400` || r.RateLimit() != `"quota";r=5;t=3600` {
		t.Errorf("after a reload: %q, %q", r.Plan.Policy, r.RateLimit())
	}
}

// TestCountsAreFlushedAndShared: two instances on one store each write
// their counts and read the other's back, so together they keep the
// quota (the overshoot is what they count between two flushes).
func TestCountsAreFlushedAndShared(t *testing.T) {
	st := newMemUsage()
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	a, b := newFixture(t, st, start), newFixture(t, st, start)
	for _, f := range []*fixture{a, a, b} {
		if r := f.take("app"); r.Outcome != Allowed {
			t.Fatalf("%+v", r)
		}
	}
	flush := func(f *fixture) {
		t.Helper()
		if err := f.m.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	flush(a)
	flush(b) // writes b's 1, reads a's 2
	if got := st.day("app", "2026-03-10"); got != 3 {
		t.Fatalf("store holds %d, want 3", got)
	}
	b.clk.Advance(time.Second)
	if r := b.take("app"); r.QuotaRemaining != 1 {
		t.Fatalf("instance b after the flush: %+v, want 1 left of 5 (3 counted by both, and this one)", r)
	}
	flush(b)
	// a has not counted since its last read: its first request is judged
	// on what it knew then (the overshoot of one flush interval), and the
	// next flush brings it up to date.
	a.clk.Advance(time.Second)
	if r := a.take("app"); r.Outcome != Allowed {
		t.Fatalf("instance a: %+v", r)
	}
	flush(a)
	if got := st.day("app", "2026-03-10"); got != 5 {
		t.Fatalf("store holds %d, want 5", got)
	}
	a.clk.Advance(time.Second)
	if r := a.take("app"); r.Outcome != QuotaExceeded {
		t.Fatalf("instance a once the quota is used up by both: %+v", r)
	}
	// b too judges its first request on what it read at its last flush:
	// 4 of 5. Together the two overshoot by that one request, and b's
	// next flush corrects it.
	b.clk.Advance(time.Second)
	if r := b.take("app"); r.Outcome != Allowed {
		t.Fatalf("instance b's first request since its last flush: %+v", r)
	}
	flush(b)
	b.clk.Advance(time.Second)
	if r := b.take("app"); r.Outcome != QuotaExceeded {
		t.Fatalf("instance b after its flush: %+v", r)
	}
}

// TestCountsSurviveARestart: Load reads the day's and month's totals.
func TestCountsSurviveARestart(t *testing.T) {
	st := newMemUsage()
	f := newFixture(t, st, lastMinute.Add(-time.Hour))
	for range 5 {
		f.clk.Advance(time.Second)
		f.take("app")
	}
	if err := f.m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	g := newFixture(t, st, f.clk.Now())
	if r := g.take("app"); r.Outcome != QuotaExceeded {
		t.Fatalf("after a restart: %+v", r)
	}
	if r := g.take("other"); r.Outcome != Allowed || r.RateRemaining != 1 {
		t.Fatalf("another client after the restart: %+v", r)
	}
}

// TestCountsOfADayThatEndedKeepTheirDay: counts made before midnight and
// written after it are written under their own day.
func TestCountsOfADayThatEndedKeepTheirDay(t *testing.T) {
	st := newMemUsage()
	f := newFixture(t, st, lastMinute)
	f.take("app")
	f.take("pro-app")
	f.clk.Set(lastMinute.Add(2 * time.Minute))     // 1 April, 00:01
	f.take("app")                                  // rolls "app" over in Take
	if err := f.m.Flush(t.Context()); err != nil { // rolls "pro-app" over in Flush
		t.Fatal(err)
	}
	for k, want := range map[string]int64{"app|2026-03-31": 1, "app|2026-04-01": 1, "pro-app|2026-03-31": 1, "pro-app|2026-04-01": 0} {
		key, day, _ := cut(k)
		if got := st.day(key, day); got != want {
			t.Errorf("%s on %s: %d, want %d", key, day, got, want)
		}
	}
	if r := f.take("pro-app"); r.QuotaRemaining != 99 {
		t.Errorf("a new month starts from zero: %+v", r)
	}
}

func cut(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '|' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestAFailedFlushIsRetried: counts a write could not store are written
// by the next one, once.
func TestAFailedFlushIsRetried(t *testing.T) {
	st := newMemUsage()
	f := newFixture(t, st, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	f.take("app")
	st.fail = true
	if err := f.m.Flush(t.Context()); err == nil {
		t.Fatal("a failed write is not reported")
	}
	f.clk.Advance(time.Second)
	f.take("app")
	if r := f.take("app"); r.Outcome != Allowed || r.QuotaRemaining != 2 {
		t.Fatalf("counts of the failed write still count here: %+v, want 2 left of 5", r)
	}
	st.fail = false
	if err := f.m.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := st.day("app", "2026-03-10"); got != 3 {
		t.Fatalf("store holds %d, want 3", got)
	}
}

// TestShutdownDuringAWriteCountsOnce: the periodic flush is writing when
// the gateway stops (its context ends); the write completes, is not
// reported as failed, and the flush at Close does not write it again.
func TestShutdownDuringAWriteCountsOnce(t *testing.T) {
	st := newMemUsage()
	f := newFixture(t, st, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	for range 3 {
		if r := f.take("app"); r.Outcome != Allowed {
			t.Fatalf("%+v", r)
		}
		f.clk.Advance(time.Second)
	}
	ctx, stop := context.WithCancel(t.Context())
	st.inAdd = func(c context.Context) error {
		stop() // the gateway stops while the database commits
		return c.Err()
	}
	if err := f.m.Flush(ctx); err != nil {
		t.Fatalf("a write that completed was reported as %v", err)
	}
	st.inAdd = nil
	if r := f.take("app"); r.Outcome != Allowed {
		t.Fatalf("%+v", r)
	}
	if err := f.m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := st.day("app", "2026-03-10"); got != 4 {
		t.Fatalf("store holds %d after 4 requests, want 4", got)
	}
}

// TestIdleClientsAreForgotten: memory follows the clients active lately:
// 200,000 clients seen once are all forgotten once idle (196 B each while
// held, measured with a million).
func TestIdleClientsAreForgotten(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 clients")
	}
	st := newMemUsage()
	f := newFixture(t, st, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	f.m.Update(&config.Config{Plans: []config.Plan{{Name: "free", Rate: "10/s"}}, DefaultPlan: "free"})
	const n = 200_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("client-%07d", i)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	for _, id := range ids {
		f.m.Take("", id, f.clk.Now())
	}
	t.Logf("%d new clients: %s", n, time.Since(t0))
	if got := f.m.Clients(); got != n {
		t.Fatalf("%d clients held, want %d", got, n)
	}
	var full runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&full)
	t0 = time.Now()
	if err := f.m.Flush(t.Context()); err != nil { // writes and reads them all
		t.Fatal(err)
	}
	t.Logf("flush of %d clients: %s", n, time.Since(t0))
	f.clk.Advance(59 * time.Second)
	t0 = time.Now()
	if err := f.m.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("flush of %d idle clients: %s", n, time.Since(t0))
	if got := f.m.Clients(); got != n {
		t.Fatalf("clients forgotten before a minute: %d left", got)
	}
	f.clk.Advance(time.Second)
	if err := f.m.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := f.m.Clients(); got != 0 {
		t.Fatalf("%d idle clients still held", got)
	}
	f.st = nil // the fake store's own map is not the meter's memory
	st.counts = nil
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	perClient := (int64(full.HeapAlloc) - int64(before.HeapAlloc)) / n
	left := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap: %d B per held client; %d B left after forgetting %d clients", perClient, left, n)
	if left > 32<<20 {
		t.Errorf("%d MiB still allocated after every client was forgotten", left>>20)
	}
	runtime.KeepAlive(ids)
}

// TestTakeDoesNotAllocate: a known client's request allocates nothing.
func TestTakeDoesNotAllocate(t *testing.T) {
	f := newFixture(t, newMemUsage(), time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	f.m.Update(&config.Config{Plans: []config.Plan{{Name: "big", Rate: "1000000000/s", Quota: "1000000000/month"}}, DefaultPlan: "big"})
	now := f.clk.Now()
	f.m.Take("", "app", now)
	f.m.Take("https://idp.example", "app", now)
	if n := testing.AllocsPerRun(1000, func() {
		f.m.Take("", "app", now)
		f.m.Take("https://idp.example", "app", now)
	}); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

func BenchmarkTake(b *testing.B) {
	f := newFixture(b, newMemUsage(), time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	f.m.Update(&config.Config{Plans: []config.Plan{{Name: "big", Rate: "1000000000/s", Quota: "1000000000/month"}}, DefaultPlan: "big"})
	now := f.clk.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.m.Take("", "app", now)
		}
	})
}

// TestConcurrentTakesAndFlushes: requests counted while flushes run are
// each written once.
func TestConcurrentTakesAndFlushes(t *testing.T) {
	st := newMemUsage()
	f := newFixture(t, st, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	f.m.Update(&config.Config{Plans: []config.Plan{{Name: "big", Rate: "1000000/s", Quota: "1000000/day"}}, DefaultPlan: "big"})
	const workers, each = 4, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			default:
				_ = f.m.Flush(t.Context())
			}
		}
	}()
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if r := f.m.Take("", fmt.Sprintf("c%d", (w+i)%7), f.clk.Now()); r.Outcome != Allowed {
					t.Errorf("%+v", r)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-flushed
	if err := f.m.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var total int64
	for i := range 7 {
		total += st.day(fmt.Sprintf("c%d", i), "2026-03-10")
	}
	if total != workers*each {
		t.Fatalf("store holds %d, want %d", total, workers*each)
	}
}

package subscription

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/internal/testclock"
)

var _ guard.Subscriptions = (*Remote)(nil)

// upstream is a remote /v1/subscriptions/valid: it answers by token
// ("Bearer tok-USER" gets USER's list), records what it was sent, and can be
// told to fail or to hold its answer.
type upstream struct {
	*httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	lists  map[string]string // user -> JSON body
	status int
	hold   chan struct{} // when set, answers wait for it to close
	paths  []string
	auths  []string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{status: http.StatusOK, lists: map[string]string{
		"alice": `[{"type":"fmsdata","subscription_name":"Navigation Data","date_active":"2030-01-01T00:00:00Z","date_expiry":"2030-12-31T23:59:59Z","subscription_id":"s-1"}]`,
		"bob":   `[]`,
	}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		u.mu.Lock()
		u.paths = append(u.paths, r.URL.Path)
		u.auths = append(u.auths, r.Header.Get("Authorization"))
		status, hold := u.status, u.hold
		body, ok := u.lists[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer tok-")]
		u.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if !ok && status == http.StatusOK {
			status, body = http.StatusUnauthorized, `{"error":"invalid_token"}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) set(f func(u *upstream)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(u)
}

type remoteFixture struct {
	r     *Remote
	up    *upstream
	clock *testclock.Clock
	reg   *prometheus.Registry
}

func newRemoteFixture(t *testing.T, opts RemoteOptions) *remoteFixture {
	t.Helper()
	f := &remoteFixture{up: newUpstream(t), clock: newClock(), reg: prometheus.NewPedanticRegistry()}
	if opts.URL == "" {
		opts.URL = f.up.URL
	}
	if opts.TTL == 0 {
		opts.TTL = time.Minute
	}
	opts.Now = f.clock.Now
	opts.Client = f.up.Client()
	opts.Metrics = NewMetrics(f.reg, guard.NewMetrics(f.reg))
	r, err := NewRemote(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	return f
}

func user(name string) guard.Principal {
	return guard.Principal{Issuer: issuer, Subject: name, ClientID: "navtool"}
}

func (f *remoteFixture) counts() (hits, misses, ok, failed float64) {
	return testutil.ToFloat64(f.r.metrics.hit), testutil.ToFloat64(f.r.metrics.miss),
		testutil.ToFloat64(f.r.metrics.fetchOK), testutil.ToFloat64(f.r.metrics.fetchErr)
}

func TestRemoteAsksWithTheUsersToken(t *testing.T) {
	f := newRemoteFixture(t, RemoteOptions{})
	ok, err := f.r.Active(t.Context(), user("alice"), "tok-alice", "fmsdata")
	if err != nil || !ok {
		t.Fatalf("Active = %v, %v", ok, err)
	}
	if f.up.paths[0] != ValidPath || f.up.auths[0] != "Bearer tok-alice" {
		t.Errorf("upstream got %s with %q", f.up.paths[0], f.up.auths[0])
	}
	if ok, err := f.r.Active(t.Context(), user("alice"), "tok-alice", "charts"); err != nil || ok {
		t.Errorf("Active(charts) = %v, %v", ok, err)
	}
	if ok, err := f.r.Active(t.Context(), user("bob"), "tok-bob", "fmsdata"); err != nil || ok {
		t.Errorf("bob: Active = %v, %v", ok, err)
	}
	if f.up.calls.Load() != 2 {
		t.Errorf("upstream calls = %d, want 2 (one per user)", f.up.calls.Load())
	}
}

func TestRemoteURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://api.example", "https://api.example/v1/subscriptions/valid"},
		{"https://api.example/", "https://api.example/v1/subscriptions/valid"},
		{"https://api.example/navigraph", "https://api.example/navigraph/v1/subscriptions/valid"},
		{"https://api.example/v1/subscriptions/valid", "https://api.example/v1/subscriptions/valid"},
		{"http://127.0.0.1:9000/v1/subscriptions/valid?x=1", "http://127.0.0.1:9000/v1/subscriptions/valid?x=1"},
	} {
		r, err := NewRemote(RemoteOptions{URL: tt.in})
		if err != nil || r.URL() != tt.want {
			t.Errorf("NewRemote(%q).URL() = %q, %v; want %q", tt.in, r.URL(), err, tt.want)
		}
	}
	for _, bad := range []string{"", "api.example", "ftp://api.example", "https://", "http://[::1"} {
		if _, err := NewRemote(RemoteOptions{URL: bad}); err == nil {
			t.Errorf("NewRemote(%q) succeeded", bad)
		}
	}
}

func TestRemoteCache(t *testing.T) {
	f := newRemoteFixture(t, RemoteOptions{TTL: time.Minute})
	ctx := t.Context()
	ask := func(name string) {
		t.Helper()
		if _, err := f.r.Active(ctx, user(name), "tok-"+name, "fmsdata"); err != nil {
			t.Fatal(err)
		}
	}
	ask("alice")
	ask("alice")
	f.clock.Advance(time.Minute - time.Second)
	ask("alice")
	if n := f.up.calls.Load(); n != 1 {
		t.Fatalf("upstream calls within the TTL = %d, want 1", n)
	}
	f.clock.Advance(time.Second)
	ask("alice")
	if n := f.up.calls.Load(); n != 2 {
		t.Fatalf("upstream calls after the TTL = %d, want 2", n)
	}
	ask("bob")
	if n := f.up.calls.Load(); n != 3 {
		t.Fatalf("upstream calls for another user = %d, want 3", n)
	}
	if h, m, ok, failed := f.counts(); h != 2 || m != 3 || ok != 3 || failed != 0 {
		t.Errorf("hits %v misses %v ok %v errors %v; want 2 3 3 0", h, m, ok, failed)
	}

	t.Run("a cached answer is judged at the current time", func(t *testing.T) {
		f.clock.Set(day(2030, 12, 31).Add(24*time.Hour - time.Second))
		if ok, _ := f.r.Active(ctx, user("alice"), "tok-alice", "fmsdata"); !ok {
			t.Fatal("not active on its last second")
		}
		f.clock.Advance(time.Second) // within the TTL of the answer just fetched
		before := f.up.calls.Load()
		if ok, _ := f.r.Active(ctx, user("alice"), "tok-alice", "fmsdata"); ok {
			t.Fatal("active after its expiry")
		}
		if f.up.calls.Load() != before {
			t.Error("the expiry was learnt from the upstream, not the cache")
		}
	})
	t.Run("the same subject of another issuer is another user", func(t *testing.T) {
		before := f.up.calls.Load()
		p := user("alice")
		p.Issuer = "https://idp.example"
		if _, err := f.r.Active(ctx, p, "tok-alice", "fmsdata"); err != nil {
			t.Fatal(err)
		}
		if f.up.calls.Load() != before+1 {
			t.Error("answer shared across issuers")
		}
	})
	t.Run("the cache holds at most cache_size users", func(t *testing.T) {
		f := newRemoteFixture(t, RemoteOptions{CacheSize: 1})
		ask := func(name string) {
			if _, err := f.r.Active(ctx, user(name), "tok-"+name, "fmsdata"); err != nil {
				t.Fatal(err)
			}
		}
		ask("alice")
		ask("bob")
		ask("alice")
		if n := f.up.calls.Load(); n != 3 {
			t.Errorf("upstream calls = %d, want 3 (alice evicted by bob)", n)
		}
	})
}

func TestRemoteFailuresAreNotCached(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		msg    string
	}{
		{"server error", 500, `oops`, "500"},
		{"unavailable", 503, ``, "503"},
		{"token refused upstream", 401, `{"error":"invalid_token"}`, "401"},
		{"not JSON", 200, `<html>`, "malformed"},
		{"an object, not an array", 200, `{"type":"fmsdata"}`, "malformed"},
		{"null", 200, `null`, "not an array"},
		{"an entry without type", 200, `[{"subscription_name":"x","date_active":"2030-01-01","date_expiry":"2031-01-01"}]`, "no type"},
		{"a bad date", 200, `[{"type":"fmsdata","date_active":"soon","date_expiry":"2031-01-01"}]`, "date_active"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRemoteFixture(t, RemoteOptions{})
			f.up.set(func(u *upstream) { u.status, u.lists["alice"] = tt.status, tt.body })
			_, err := f.r.Active(t.Context(), user("alice"), "tok-alice", "fmsdata")
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.msg)
			}
			f.up.set(func(u *upstream) { u.status = 200 })
			f.up.set(func(u *upstream) {
				u.lists["alice"] = `[{"type":"fmsdata","subscription_name":"N","date_active":"2030-01-01","date_expiry":"2030-12-31"}]`
			})
			ok, err := f.r.Active(t.Context(), user("alice"), "tok-alice", "fmsdata")
			if err != nil || !ok {
				t.Fatalf("after recovery: Active = %v, %v", ok, err)
			}
			if n := f.up.calls.Load(); n != 2 {
				t.Errorf("upstream calls = %d, want 2 (the failure was not cached)", n)
			}
			if _, m, ok, failed := f.counts(); m != 2 || ok != 1 || failed != 1 {
				t.Errorf("misses %v ok %v errors %v; want 2 1 1", m, ok, failed)
			}
		})
	}
	t.Run("upstream down", func(t *testing.T) {
		f := newRemoteFixture(t, RemoteOptions{})
		f.up.Close()
		if _, err := f.r.Active(t.Context(), user("alice"), "tok-alice", "fmsdata"); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestRemoteTimeout(t *testing.T) {
	f := newRemoteFixture(t, RemoteOptions{Timeout: 50 * time.Millisecond})
	hold := make(chan struct{})
	defer close(hold)
	f.up.set(func(u *upstream) { u.hold = hold })
	start := time.Now()
	_, err := f.r.Active(t.Context(), user("alice"), "tok-alice", "fmsdata")
	if err == nil || !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	if _, _, _, failed := f.counts(); failed != 1 {
		t.Errorf("errors = %v", failed)
	}
}

// Concurrent misses for one user wait for one upstream call.
func TestRemoteOneCallPerUser(t *testing.T) {
	f := newRemoteFixture(t, RemoteOptions{})
	hold := make(chan struct{})
	f.up.set(func(u *upstream) { u.hold = hold })
	const n = 16
	var wg sync.WaitGroup
	results := make(chan error, n)
	for range n {
		wg.Go(func() {
			ok, err := f.r.Active(context.Background(), user("alice"), "tok-alice", "fmsdata")
			if err == nil && !ok {
				err = errors.New("not active")
			}
			results <- err
		})
	}
	// Every caller has missed the cache (and so waits on the one call)
	// before the upstream answers.
	for testutil.ToFloat64(f.r.metrics.miss) < n {
		time.Sleep(time.Millisecond)
	}
	close(hold)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Error(err)
		}
	}
	if c := f.up.calls.Load(); c != 1 {
		t.Fatalf("upstream calls = %d, want 1", c)
	}

	t.Run("a waiter that gives up does not stop the call", func(t *testing.T) {
		f := newRemoteFixture(t, RemoteOptions{})
		hold := make(chan struct{})
		f.up.set(func(u *upstream) { u.hold = hold })
		leaderCtx, cancelLeader := context.WithCancel(context.Background())
		leader := make(chan error, 1)
		go func() {
			_, err := f.r.Active(leaderCtx, user("alice"), "tok-alice", "fmsdata")
			leader <- err
		}()
		for f.up.calls.Load() < 1 {
			time.Sleep(time.Millisecond)
		}
		waiterCtx, cancelWaiter := context.WithCancel(context.Background())
		cancelWaiter()
		if _, err := f.r.Active(waiterCtx, user("alice"), "tok-alice", "fmsdata"); !errors.Is(err, context.Canceled) {
			t.Fatalf("waiter: err = %v, want context.Canceled", err)
		}
		cancelLeader() // the request that started the call is gone too
		close(hold)
		if err := <-leader; err != nil {
			t.Fatalf("leader: %v", err)
		}
		if ok, err := f.r.Active(context.Background(), user("alice"), "tok-alice", "fmsdata"); err != nil || !ok {
			t.Fatalf("later: %v, %v", ok, err)
		}
		if c := f.up.calls.Load(); c != 1 {
			t.Errorf("upstream calls = %d, want 1 (the answer was cached)", c)
		}
	})
}

func TestRemoteMetrics(t *testing.T) {
	f := newRemoteFixture(t, RemoteOptions{})
	ctx := t.Context()
	f.r.Active(ctx, user("alice"), "tok-alice", "fmsdata")
	f.r.Active(ctx, user("alice"), "tok-alice", "fmsdata")
	f.r.Active(ctx, user("carol"), "tok-carol", "fmsdata") // 401 upstream
	want := `
# HELP clearance_cache_hits_total Cache lookups that found a usable entry, by cache.
# TYPE clearance_cache_hits_total counter
clearance_cache_hits_total{cache="subscriptions"} 1
# HELP clearance_cache_misses_total Cache lookups that found no usable entry, by cache.
# TYPE clearance_cache_misses_total counter
clearance_cache_misses_total{cache="subscriptions"} 2
# HELP clearance_subscription_fetches_total Calls to the remote subscriptions service, by result (ok or error).
# TYPE clearance_subscription_fetches_total counter
clearance_subscription_fetches_total{result="error"} 1
clearance_subscription_fetches_total{result="ok"} 1
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want),
		"clearance_cache_hits_total", "clearance_cache_misses_total", "clearance_subscription_fetches_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(f.reg); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

func BenchmarkRemoteCachedActive(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"type":"fmsdata","subscription_name":"N","date_active":"2030-01-01","date_expiry":"2030-12-31"}]`)
	}))
	defer up.Close()
	c := newClock()
	r, err := NewRemote(RemoteOptions{URL: up.URL, TTL: time.Hour, Now: c.Now, Client: up.Client()})
	if err != nil {
		b.Fatal(err)
	}
	p := user("alice")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := r.Active(ctx, p, "tok-alice", "fmsdata"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

package revocation_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clearance-gw/clearance/authz/revocation"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/internal/testclock"
)

// source is an in-memory revocation log with the store's ordering promise.
type source struct {
	mu    sync.Mutex
	revs  []store.Revocation
	err   error
	calls []int64 // seq asked for, per call
}

func (s *source) add(r store.Revocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Seq = int64(len(s.revs) + 1)
	s.revs = append(s.revs, r)
}

func (s *source) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *source) RevocationsSince(_ context.Context, seq int64) ([]store.Revocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, seq)
	if s.err != nil {
		return nil, s.err
	}
	var out []store.Revocation
	for _, r := range s.revs {
		if r.Seq > seq {
			out = append(out, r)
		}
	}
	return out, nil
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestSyncLearnsRevocationsFromTheStore(t *testing.T) {
	src := &source{}
	clk := testclock.New(t0)
	set := revocation.New(src, revocation.Options{Now: clk.Now})
	src.add(store.Revocation{JTI: "j1", ExpiresAt: t0.Add(time.Hour)})
	src.add(store.Revocation{SessionID: "s1", ExpiresAt: t0.Add(time.Hour)})

	if set.Revoked("j1", "") {
		t.Fatal("revoked before Sync")
	}
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		jti, sid string
		want     bool
	}{
		{"revoked jti", "j1", "", true},
		{"revoked session", "", "s1", true},
		{"revoked session with a good jti", "j9", "s1", true},
		{"revoked jti in a good session", "j1", "s9", true},
		{"unknown jti and session", "j9", "s9", false},
		{"a jti is not a session id", "", "j1", false},
		{"a session id is not a jti", "s1", "", false},
		{"empty values", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := set.Revoked(tt.jti, tt.sid); got != tt.want {
				t.Errorf("Revoked(%q, %q) = %v, want %v", tt.jti, tt.sid, got, tt.want)
			}
		})
	}
}

func TestCutoffsRefuseTokensIssuedUpToTheirTime(t *testing.T) {
	src := &source{}
	clk := testclock.New(t0)
	set := revocation.New(src, revocation.Options{Now: clk.Now})
	cut := t0.Add(time.Second) // a deletion at t0+0.3s, rounded up
	src.add(store.Revocation{ClientID: "app", Cutoff: cut, ExpiresAt: cut.Add(time.Hour)})
	src.add(store.Revocation{Subject: "alice", Cutoff: cut, ExpiresAt: cut.Add(time.Hour)})
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	at := cut.Unix()
	tests := []struct {
		name            string
		client, subject string
		iat             int64
		want            bool
	}{
		{"client's token issued before", "app", "", at - 60, true},
		{"client's token issued in the cutoff second", "app", "", at, true},
		{"client's token issued after (a new client of that id)", "app", "", at + 1, false},
		{"subject's token issued before", "", "alice", at - 1, true},
		{"subject's token issued in the cutoff second", "other-app", "alice", at, true},
		{"subject's token issued after", "other-app", "alice", at + 1, false},
		{"a token without iat counts as issued before", "app", "", time.Time{}.Unix(), true},
		{"another client", "app-2", "bob", at - 60, false},
		{"a client id is not a subject", "alice", "", at - 60, false},
		{"a subject is not a client id", "", "app", at - 60, false},
		{"empty values", "", "", at - 60, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := set.RevokedToken("", "", tt.client, tt.subject, tt.iat); got != tt.want {
				t.Errorf("RevokedToken(%q, %q, iat %d) = %v, want %v", tt.client, tt.subject, tt.iat, got, tt.want)
			}
		})
	}
	if set.Revoked("app", "alice") {
		t.Error("Revoked (jti and session only) matched a cutoff")
	}
	if set.Len() != 2 {
		t.Errorf("Len = %d, want 2", set.Len())
	}
}

func TestCutoffsOfOneKeyMerge(t *testing.T) {
	clk := testclock.New(t0)
	set := revocation.New(&source{}, revocation.Options{Now: clk.Now})
	set.Add(store.Revocation{ClientID: "app", Cutoff: t0.Add(time.Minute), ExpiresAt: t0.Add(2 * time.Hour)})
	set.Add(store.Revocation{ClientID: "app", Cutoff: t0, ExpiresAt: t0.Add(time.Hour)})
	if !set.RevokedToken("", "", "app", "", t0.Add(time.Minute).Unix()) {
		t.Error("an earlier second cutoff moved the first one back")
	}
	clk.Advance(90 * time.Minute) // past the second's expiry and the sweep interval
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !set.RevokedToken("", "", "app", "", t0.Unix()) || set.Len() != 1 {
		t.Error("a shorter second cutoff shortened the first")
	}
}

func TestRegistererGetsTheEntriesGauge(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	clk := testclock.New(t0)
	src := &source{}
	set := revocation.New(src, revocation.Options{Now: clk.Now, Registerer: reg})
	set.Add(store.Revocation{JTI: "j", ExpiresAt: t0.Add(time.Minute)})
	src.add(store.Revocation{SessionID: "s", ExpiresAt: t0.Add(time.Hour)})
	src.add(store.Revocation{ClientID: "c", Cutoff: t0, ExpiresAt: t0.Add(time.Hour)})
	src.add(store.Revocation{Subject: "u", Cutoff: t0, ExpiresAt: t0.Add(2 * time.Hour)})
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := func(n int) string {
		return fmt.Sprintf(`# HELP clearance_revocation_entries Entries held in memory to refuse revoked tokens: token ids, sessions, and cutoffs of deleted clients and users.
# TYPE clearance_revocation_entries gauge
clearance_revocation_entries %d
`, n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want(4)), "clearance_revocation_entries"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour) // j, s and c expire; u stays
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want(1)), "clearance_revocation_entries"); err != nil {
		t.Fatal(err)
	}
}

func TestSyncAsksOnlyForNewRevocations(t *testing.T) {
	src := &source{}
	set := revocation.New(src, revocation.Options{})
	src.add(store.Revocation{JTI: "a"})
	src.add(store.Revocation{JTI: "b"})
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	src.add(store.Revocation{JTI: "c"})
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []int64{0, 2, 3}
	if fmt.Sprint(src.calls) != fmt.Sprint(want) {
		t.Errorf("seqs asked = %v, want %v", src.calls, want)
	}
	if !set.Revoked("c", "") || set.Len() != 3 {
		t.Errorf("Revoked(c) = %v, Len = %d; want true, 3", set.Revoked("c", ""), set.Len())
	}
}

func TestAddTakesEffectAtOnce(t *testing.T) {
	set := revocation.New(&source{}, revocation.Options{})
	set.Add(store.Revocation{SessionID: "s1", ExpiresAt: time.Now().Add(time.Hour)})
	set.Add(store.Revocation{JTI: "j1", ExpiresAt: time.Now().Add(time.Hour)})
	if !set.Revoked("", "s1") || !set.Revoked("j1", "") {
		t.Fatal("Add did not take effect")
	}
}

func TestFailedSyncKeepsTheSetAndRetriesFromTheSamePoint(t *testing.T) {
	src := &source{}
	set := revocation.New(src, revocation.Options{})
	src.add(store.Revocation{JTI: "a"})
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("database is down")
	src.setErr(boom)
	src.add(store.Revocation{JTI: "b"})
	if err := set.Sync(t.Context()); !errors.Is(err, boom) {
		t.Fatalf("Sync error = %v, want %v", err, boom)
	}
	if !set.Revoked("a", "") || set.Revoked("b", "") {
		t.Fatal("a failed Sync changed the set")
	}
	src.setErr(nil)
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !set.Revoked("b", "") {
		t.Fatal("the retry missed a revocation")
	}
	if got := src.calls[len(src.calls)-1]; got != 1 {
		t.Errorf("retry asked from seq %d, want 1", got)
	}
}

func TestExpiredEntriesAreDropped(t *testing.T) {
	src := &source{}
	clk := testclock.New(t0)
	set := revocation.New(src, revocation.Options{Now: clk.Now})
	src.add(store.Revocation{JTI: "short", ExpiresAt: t0.Add(10 * time.Minute)})
	src.add(store.Revocation{SessionID: "long", ExpiresAt: t0.Add(24 * time.Hour)})
	src.add(store.Revocation{JTI: "gone", ExpiresAt: t0.Add(-time.Second)}) // expired already
	set.Add(store.Revocation{JTI: "local", ExpiresAt: t0.Add(30 * time.Minute)})
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if set.Revoked("gone", "") {
		t.Error("an already expired revocation was kept")
	}
	if set.Len() != 3 {
		t.Fatalf("Len = %d, want 3", set.Len())
	}

	clk.Advance(time.Hour) // past short and local, and past the sweep interval
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if set.Revoked("short", "") || set.Revoked("local", "") {
		t.Error("expired entries were not dropped")
	}
	if !set.Revoked("", "long") || set.Len() != 1 {
		t.Errorf("live entry lost: Revoked(long) = %v, Len = %d", set.Revoked("", "long"), set.Len())
	}
}

func TestAddKeepsTheLaterExpiry(t *testing.T) {
	clk := testclock.New(t0)
	set := revocation.New(&source{}, revocation.Options{Now: clk.Now})
	set.Add(store.Revocation{SessionID: "s", ExpiresAt: t0.Add(2 * time.Hour)})
	set.Add(store.Revocation{SessionID: "s", ExpiresAt: t0.Add(time.Minute)})
	clk.Advance(time.Hour)
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !set.Revoked("", "s") {
		t.Error("a shorter second revocation shortened the first")
	}
}

func TestRunPollsUntilCancelled(t *testing.T) {
	src := &source{}
	set := revocation.New(src, revocation.Options{Interval: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { set.Run(ctx); close(done) }()

	src.setErr(errors.New("transient"))
	src.add(store.Revocation{JTI: "remote"})
	src.setErr(nil)
	deadline := time.After(5 * time.Second)
	for !set.Revoked("remote", "") {
		select {
		case <-deadline:
			t.Fatal("Run did not pick up the revocation")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestConcurrentUseIsRaceFree(t *testing.T) {
	src := &source{}
	set := revocation.New(src, revocation.Options{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("g%d-%d", g, i)
				switch g {
				case 0:
					set.Add(store.Revocation{JTI: id})
				case 1:
					src.add(store.Revocation{SessionID: id})
					_ = set.Sync(t.Context())
				default:
					set.Revoked(id, id)
				}
			}
		})
	}
	wg.Wait()
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if set.Len() != 400 {
		t.Errorf("Len = %d, want 400", set.Len())
	}
}

func BenchmarkRevoked(b *testing.B) {
	set := revocation.New(&source{}, revocation.Options{})
	for i := range 10000 {
		set.Add(store.Revocation{JTI: fmt.Sprintf("jti-%d", i), SessionID: fmt.Sprintf("sid-%d", i)})
	}
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if set.Revoked("not-revoked-jti", "not-revoked-sid") {
				b.Fatal("unexpected hit")
			}
		}
	})
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !set.Revoked("jti-5000", "") {
				b.Fatal("unexpected miss")
			}
		}
	})
	for i := range 1000 {
		set.Add(store.Revocation{ClientID: fmt.Sprintf("client-%d", i), Subject: fmt.Sprintf("user-%d", i),
			Cutoff: t0, ExpiresAt: t0.Add(time.Hour)})
	}
	b.Run("local token miss", func(b *testing.B) {
		b.ReportAllocs()
		iat := t0.Unix() + 1
		for b.Loop() {
			if set.RevokedToken("not-revoked-jti", "not-revoked-sid", "client-5", "user-5", iat) {
				b.Fatal("unexpected hit")
			}
		}
	})
	b.Run("local token cutoff hit", func(b *testing.B) {
		b.ReportAllocs()
		iat := t0.Unix()
		for b.Loop() {
			if !set.RevokedToken("not-revoked-jti", "not-revoked-sid", "client-5", "", iat) {
				b.Fatal("unexpected miss")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				set.RevokedToken("not-revoked-jti", "not-revoked-sid", "client-42", "user-42", t0.Unix()+1)
			}
		})
	})
}

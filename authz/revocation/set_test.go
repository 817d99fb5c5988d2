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

// TestCutoffsRefuseTheDeletedIncarnation: a cutoff refuses the tokens of a
// client or user created at or before it, to the microsecond, and none of
// a client or user created after it, even in the same second; tokens
// without creation claims fall back to iat against the cutoff rounded up
// to the second.
func TestCutoffsRefuseTheDeletedIncarnation(t *testing.T) {
	src := &source{}
	clk := testclock.New(t0)
	set := revocation.New(src, revocation.Options{Now: clk.Now})
	cut := t0.Add(300 * time.Millisecond) // a deletion at t0+0.3s
	src.add(store.Revocation{ClientID: "app", Cutoff: cut, ExpiresAt: cut.Add(time.Hour)})
	src.add(store.Revocation{Subject: "alice", Cutoff: cut, ExpiresAt: cut.Add(time.Hour)})
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	at := cut.UnixMicro()
	sec := t0.Unix() + 1 // the cutoff rounded up to the second
	tests := []struct {
		name                 string
		client, subject      string
		iat                  int64
		clientMade, userMade int64
		want                 bool
	}{
		{"the deleted client's token", "app", "app", t0.Unix(), at - 1_000_000, 0, true},
		{"a token of a client made in the deletion's microsecond", "app", "app", t0.Unix(), at, 0, true},
		{"a token minted after the deletion by the old client", "app", "app", sec + 5, at - 1, 0, true},
		{"the new client's token, a microsecond later", "app", "app", t0.Unix(), at + 1, 0, false},
		{"the new client's token, in the same second", "app", "app", sec, at + 1, 0, false},
		{"the deleted user's token", "other-app", "alice", t0.Unix(), at - 1, at - 1, true},
		{"the deleted user's token minted after, through a new client", "other-app", "alice", sec + 5, at + 1, at - 1, true},
		{"the new user's token, a microsecond later", "other-app", "alice", t0.Unix(), at - 1, at + 1, false},
		{"a client named after the deleted user", "alice", "alice", t0.Unix(), at + 1, 0, false},
		{"the old client's token through a new user", "app", "bob", t0.Unix(), at - 1, at + 1, true},
		{"without claims: issued before", "app", "", t0.Unix() - 60, 0, 0, true},
		{"without claims: issued in the cutoff second", "app", "", sec, 0, 0, true},
		{"without claims: issued after", "app", "", sec + 1, 0, 0, false},
		{"without claims: a subject's token issued in the cutoff second", "other-app", "alice", sec, 0, 0, true},
		{"without claims: a subject's token issued after", "other-app", "alice", sec + 1, 0, 0, false},
		{"a token without iat or claims counts as issued before", "app", "", time.Time{}.Unix(), 0, 0, true},
		{"another client", "app-2", "bob", t0.Unix() - 60, at - 1, at - 1, false},
		{"a client id is not a subject", "alice", "", t0.Unix() - 60, at - 1, 0, false},
		{"a subject is not a client id", "", "app", t0.Unix() - 60, at - 1, at - 1, false},
		{"empty values", "", "", t0.Unix() - 60, at - 1, at - 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := set.RevokedToken("", "", 0, tt.client, tt.subject, tt.iat, tt.clientMade, tt.userMade); got != tt.want {
				t.Errorf("RevokedToken(%q, %q, iat %d, client made %d, user made %d) = %v, want %v",
					tt.client, tt.subject, tt.iat, tt.clientMade, tt.userMade, got, tt.want)
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

// TestCutoffsOfAWholeSecond: cutoffs recorded before they were exact are
// whole seconds; they keep their meaning.
func TestCutoffsOfAWholeSecond(t *testing.T) {
	set := revocation.New(&source{}, revocation.Options{Now: testclock.New(t0).Now})
	cut := t0.Add(time.Second)
	set.Add(store.Revocation{ClientID: "app", Cutoff: cut, ExpiresAt: cut.Add(time.Hour)})
	if !set.RevokedToken("", "", 0, "app", "", cut.Unix(), 0, 0) || set.RevokedToken("", "", 0, "app", "", cut.Unix()+1, 0, 0) {
		t.Error("a token without claims: want refused when issued in the cutoff's second, not after")
	}
	if !set.RevokedToken("", "", 0, "app", "", 0, cut.UnixMicro(), 0) || set.RevokedToken("", "", 0, "app", "", 0, cut.UnixMicro()+1, 0) {
		t.Error("a token with client_created: want refused when made at the cutoff, not after")
	}
}

func TestCutoffsOfOneKeyMerge(t *testing.T) {
	clk := testclock.New(t0)
	set := revocation.New(&source{}, revocation.Options{Now: clk.Now})
	set.Add(store.Revocation{ClientID: "app", Cutoff: t0.Add(time.Minute), ExpiresAt: t0.Add(2 * time.Hour)})
	set.Add(store.Revocation{ClientID: "app", Cutoff: t0, ExpiresAt: t0.Add(time.Hour)})
	if !set.RevokedToken("", "", 0, "app", "", 0, t0.Add(time.Minute).UnixMicro(), 0) ||
		!set.RevokedToken("", "", 0, "app", "", t0.Add(time.Minute).Unix(), 0, 0) {
		t.Error("an earlier second cutoff moved the first one back")
	}
	clk.Advance(90 * time.Minute) // past the second's expiry and the sweep interval
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !set.RevokedToken("", "", 0, "app", "", 0, t0.UnixMicro(), 0) || set.Len() != 1 {
		t.Error("a shorter second cutoff shortened the first")
	}
}

// TestDeletedAndCreatedAgainInALoop: a client deleted and made again many
// times, all within one second on the store's clock, never has a token
// of an earlier incarnation accepted and always has its current one's.
func TestDeletedAndCreatedAgainInALoop(t *testing.T) {
	src := &source{}
	set := revocation.New(src, revocation.Options{Now: testclock.New(t0).Now})
	var latest time.Time
	var old []int64 // creation times of deleted incarnations
	for i := range 200 {
		now := t0.Add(time.Duration(i) * time.Microsecond / 2) // two calls per microsecond
		created := store.CreatedAfter(now, latest)
		if set.RevokedToken("", "", 0, "app", "app", now.Unix(), created.UnixMicro(), 0) {
			t.Fatalf("incarnation %d (created %s): its token is refused", i, created)
		}
		for _, c := range old {
			if !set.RevokedToken("", "", 0, "app", "app", now.Unix(), c, 0) {
				t.Fatalf("incarnation %d: a token of an earlier one (created %d) is accepted", i, c)
			}
		}
		latest = store.CutoffAt(now, created)
		src.add(store.Revocation{ClientID: "app", Cutoff: latest, ExpiresAt: latest.Add(time.Hour)})
		if i%2 == 0 {
			if err := set.Sync(t.Context()); err != nil {
				t.Fatal(err)
			}
		} else {
			set.Add(store.Revocation{ClientID: "app", Cutoff: latest, ExpiresAt: latest.Add(time.Hour)})
		}
		old = append(old, created.UnixMicro())
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
		made := t0.UnixMicro() + 1
		for b.Loop() {
			if set.RevokedToken("not-revoked-jti", "not-revoked-sid", 0, "client-5", "user-5", t0.Unix(), made, made) {
				b.Fatal("unexpected hit")
			}
		}
	})
	b.Run("local token cutoff hit", func(b *testing.B) {
		b.ReportAllocs()
		made := t0.UnixMicro()
		for b.Loop() {
			if !set.RevokedToken("not-revoked-jti", "not-revoked-sid", 0, "client-5", "", t0.Unix(), made, 0) {
				b.Fatal("unexpected miss")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				set.RevokedToken("not-revoked-jti", "not-revoked-sid", 0, "client-42", "user-42", t0.Unix(), t0.UnixMicro()+1, t0.UnixMicro()+1)
			}
		})
	})
}

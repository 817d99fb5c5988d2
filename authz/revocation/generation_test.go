package revocation_test

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/revocation"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/internal/testclock"
)

func TestGenerationsRefuseWhatRotationsLeftBehind(t *testing.T) {
	clk := testclock.New(t0)
	src := &source{}
	set := revocation.New(src, revocation.Options{Now: clk.Now})
	gen := func(g int64) bool { return set.RevokedToken("jti", "s", g, "", "", 0, 0, 0) }

	set.Add(store.Revocation{SessionID: "s", Generation: 3, ExpiresAt: t0.Add(time.Hour)})
	for g, want := range map[int64]bool{1: true, 2: true, 3: false, 4: false} {
		if got := gen(g); got != want {
			t.Errorf("generation %d below 3: revoked = %v, want %v", g, got, want)
		}
	}
	if set.RevokedToken("jti", "s", 0, "", "", 0, 0, 0) {
		t.Error("a token without sgen was refused by a generation entry (it keeps the jti rule)")
	}
	if set.RevokedToken("jti", "other", 1, "", "", 0, 0, 0) {
		t.Error("another session's token was refused")
	}

	// An older revocation arriving late (from the store) never lowers
	// the bound; the entry stays one.
	src.add(store.Revocation{SessionID: "s", Generation: 2, ExpiresAt: t0.Add(30 * time.Minute)})
	src.add(store.Revocation{SessionID: "s", Generation: 5, ExpiresAt: t0.Add(20 * time.Minute)})
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !gen(4) || gen(5) || set.Len() != 1 {
		t.Fatalf("after generations 2 and 5: revoked(4) = %v, revoked(5) = %v, Len = %d; want true, false, 1", gen(4), gen(5), set.Len())
	}

	// The expiry is the latest of every revocation merged (an hour), not
	// the last one's.
	clk.Advance(45 * time.Minute)
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !gen(4) {
		t.Fatal("the generation entry expired with its last revocation's shorter expiry")
	}
	clk.Advance(15 * time.Minute)
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if gen(4) || set.Len() != 0 {
		t.Fatalf("after every token below it expired: revoked(4) = %v, Len = %d", gen(4), set.Len())
	}
}

func TestRevokingTheSessionReplacesItsGenerations(t *testing.T) {
	set := revocation.New(&source{}, revocation.Options{})
	set.Add(store.Revocation{SessionID: "s", Generation: 7, ExpiresAt: t0.Add(time.Hour)})
	set.Add(store.Revocation{SessionID: "s", ExpiresAt: t0.Add(2 * time.Hour)})
	if !set.RevokedToken("", "s", 9, "", "", 0, 0, 0) {
		t.Error("a revoked session's current token was accepted")
	}
	set.Add(store.Revocation{SessionID: "s", Generation: 8, ExpiresAt: t0.Add(time.Hour)})
	if set.Len() != 1 {
		t.Errorf("Len = %d, want 1: the whole session", set.Len())
	}
}

func TestExtendedEntriesOutliveTheirFirstExpiry(t *testing.T) {
	clk := testclock.New(t0)
	set := revocation.New(&source{}, revocation.Options{Now: clk.Now})
	set.Add(store.Revocation{JTI: "j", ExpiresAt: t0.Add(time.Minute)})
	set.Add(store.Revocation{JTI: "j", ExpiresAt: t0.Add(time.Hour)})
	clk.Advance(2 * time.Minute)
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !set.Revoked("j", "") {
		t.Fatal("an entry extended after it was queued was dropped at its first expiry")
	}
	clk.Advance(time.Hour)
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if set.Revoked("j", "") || set.Len() != 0 {
		t.Fatalf("the extended entry was not dropped at its expiry: Len = %d", set.Len())
	}
}

func TestManyEntriesExpiringTogetherAreAllDropped(t *testing.T) {
	clk := testclock.New(t0)
	set := revocation.New(&source{}, revocation.Options{Now: clk.Now})
	const n = 10_000 // many batches of the expiry queue
	for i := range n {
		set.Add(store.Revocation{JTI: strconv.Itoa(i), ExpiresAt: t0.Add(time.Duration(i%7+1) * time.Minute)})
	}
	set.Add(store.Revocation{SessionID: "later", ExpiresAt: t0.Add(time.Hour)})
	set.Add(store.Revocation{SessionID: "never"})
	clk.Advance(10 * time.Minute)
	if err := set.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 || !set.Revoked("", "later") || !set.Revoked("", "never") {
		t.Fatalf("Len = %d after expiry, want the 2 live entries", set.Len())
	}
}

// BenchmarkRotations applies 1,000,000 refresh rotations over 10,000
// sessions, as the issuer and Sync do, and reports the entries held and the
// heap they cost. "generation" is how rotations are revoked (one entry per
// session); "jti" is how they were (one entry per rotated-out token), kept
// as the baseline. Run with -benchtime=1x.
func BenchmarkRotations(b *testing.B) {
	const sessions, rotations = 10_000, 1_000_000
	sids := make([]string, sessions)
	for i := range sids {
		sids[i] = fmt.Sprintf("session-%07d-%015d", i, i) // 22+ bytes, like a base64url id
	}
	exp := t0.Add(8 * time.Hour)
	for _, mode := range []string{"generation", "jti"} {
		b.Run(mode, func(b *testing.B) {
			var entries int
			var growth uint64
			for b.Loop() {
				set := revocation.New(&source{}, revocation.Options{Now: func() time.Time { return t0 }})
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := range rotations {
					sid := sids[i%sessions]
					if mode == "generation" {
						set.Add(store.Revocation{SessionID: sid, Generation: int64(i/sessions) + 2, ExpiresAt: exp})
					} else {
						set.Add(store.Revocation{JTI: sid + strconv.Itoa(i), ExpiresAt: exp})
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				entries = set.Len()
				growth = after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
				if mode == "generation" && entries > sessions {
					b.Fatalf("%d entries after %d rotations over %d sessions", entries, rotations, sessions)
				}
				runtime.KeepAlive(set)
			}
			b.ReportMetric(float64(entries), "entries")
			b.ReportMetric(float64(growth)/(1<<20), "heap-MiB")
		})
	}
}

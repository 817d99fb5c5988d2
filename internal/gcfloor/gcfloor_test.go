package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestChoose(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name        string
		live, other uint64
		floor       int64
		want        setting
	}{
		{"small heap: the floor", 2 * mib, 4 * mib, 16 * mib, setting{-1, 16 * mib}},
		{"GOGC=100 would stay just under", 5 * mib, 5*mib + 1, 16 * mib, setting{-1, 16 * mib}},
		{"GOGC=100 reaches the floor", 6 * mib, 4 * mib, 16 * mib, paced},
		{"large heap", 100 * mib, 4 * mib, 16 * mib, paced},
		{"no floor", 1, 1, 0, paced},
	} {
		if got := choose(tc.live, tc.other, tc.floor); got != tc.want {
			t.Errorf("%s: choose(%d, %d, %d) = %+v, want %+v", tc.name, tc.live, tc.other, tc.floor, got, tc.want)
		}
	}
}

// waitFor runs collections until f's pacing is want (the hook runs on the
// finalizer goroutine after a collection).
func waitFor(t *testing.T, f *Floor, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.Paced() != want {
		if time.Now().After(deadline) {
			t.Fatalf("pacing never became %v", want)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

var sink [][]byte

func TestFloorFollowsTheLiveHeap(t *testing.T) {
	const floor = 64 << 20
	f := Start(floor)
	defer f.Stop()

	waitFor(t, f, false)
	if got := debug.SetMemoryLimit(-1); got != floor {
		t.Fatalf("memory limit %d under a small heap, want the floor %d", got, floor)
	}

	// A live heap of 40 MiB: GOGC=100 would use 80 MiB, past the floor.
	for range 40 {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = 1
		}
		sink = append(sink, b)
	}
	waitFor(t, f, true)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("memory limit %d under a large heap, want none", got)
	}

	sink = nil
	waitFor(t, f, false)

	f.Stop()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("memory limit %d after Stop, want none", got)
	}
	if f.adjust() {
		t.Fatal("the hook is still armed after Stop")
	}
}

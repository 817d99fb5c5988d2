// Package gcfloor keeps Go's garbage collector from collecting a small heap
// over and over.
//
// With the runtime's defaults (GOGC=100, a 4 MiB minimum goal) a gateway
// whose live heap is 2 MiB collects every 2 to 3 MiB of allocation: at ten
// thousand requests a second, 30 to 40 collections a second, each with its
// fixed costs (stacks and globals scanned, spans swept, memory handed back
// to the kernel and faulted in again). A floor lets the heap grow to a
// fixed amount of memory before the collector runs while the live heap is
// small, and gives the collector back its default pacing as soon as that
// pacing would let the heap grow past the floor anyway: the memory in use
// is then max(floor, what GOGC=100 uses), never more.
//
// The floor is set as the runtime's own knobs: while the live heap is
// small, GOGC is off and the memory limit (GOMEMLIMIT's knob) is the
// floor; once twice the live heap plus the runtime's other memory reaches
// the floor, GOGC is 100 and there is no limit. The choice is made again
// after every collection.
package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultFloor is the floor "clearance serve" sets: memory in Go's own
// accounting (heap, stacks, the runtime's metadata), not counting the
// pages of the binary.
const DefaultFloor = 16 << 20

// setting is the collector's configuration for one live heap.
type setting struct {
	percent int   // GOGC; -1 is off
	limit   int64 // the memory limit in bytes; math.MaxInt64 is none
}

// paced is the runtime's default: GOGC=100, no memory limit.
var paced = setting{percent: 100, limit: math.MaxInt64}

// choose returns the setting for a live heap of live bytes when the
// runtime holds other bytes besides the heap (stacks, metadata): the floor
// as the memory limit while GOGC=100 would stay under it, else GOGC=100.
func choose(live, other uint64, floor int64) setting {
	if floor <= 0 || 2*live+other >= uint64(floor) {
		return paced
	}
	return setting{percent: -1, limit: floor}
}

// Floor applies a floor until Stop.
type Floor struct {
	floor int64

	mu      sync.Mutex // serialises adjust and Stop
	stopped bool
	current setting
	samples []metrics.Sample
}

// the runtime/metrics names read after each collection.
const (
	liveHeap     = "/gc/heap/live:bytes"
	totalMemory  = "/memory/classes/total:bytes"
	heapObjects  = "/memory/classes/heap/objects:bytes"
	heapUnused   = "/memory/classes/heap/unused:bytes"
	heapFree     = "/memory/classes/heap/free:bytes"
	heapReleased = "/memory/classes/heap/released:bytes"
)

// Start applies floor bytes as the collector's floor, and returns it so
// that it can be stopped. Only one Floor may run in a process, and only
// where nothing else sets GOGC or the memory limit: the caller leaves the
// collector alone when the environment sets GOGC or GOMEMLIMIT.
func Start(floor int64) *Floor {
	f := &Floor{floor: floor, current: paced}
	for _, name := range []string{liveHeap, totalMemory, heapObjects, heapUnused, heapFree, heapReleased} {
		f.samples = append(f.samples, metrics.Sample{Name: name})
	}
	f.adjust()
	f.arm()
	return f
}

// Stop gives the collector back its defaults; the hook set by Start is
// dropped after the next collection.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	apply(paced)
}

// sentinel is an object whose finalizer runs once after the collection
// that finds it unreachable: a hook after each collection.
type sentinel struct {
	f *Floor
	_ [2]uintptr // not a tiny allocation: those may never be finalized
}

func (f *Floor) arm() {
	s := &sentinel{f: f}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.f.adjust() {
			s.f.arm()
		}
	})
}

// adjust reads the heap the last collection left and applies the setting
// for it when it differs from the one in force, and reports whether the
// floor is still in force.
func (f *Floor) adjust() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.samples)
	var v [6]uint64
	for i, s := range f.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	live, total := v[0], v[1]
	heap := v[2] + v[3] + v[4] + v[5]
	other := uint64(0)
	if total > heap {
		other = total - heap
	}
	if next := choose(live, other, f.floor); next != f.current {
		f.current = next
		apply(next)
	}
	return true
}

// apply sets the collector: the limit first when turning GOGC off, so that
// the heap is never without both.
func apply(s setting) {
	if s.percent < 0 {
		debug.SetMemoryLimit(s.limit)
		debug.SetGCPercent(s.percent)
		return
	}
	debug.SetGCPercent(s.percent)
	debug.SetMemoryLimit(s.limit)
}

// Paced reports whether the collector has its default pacing (the live
// heap is too large for the floor to matter); false while the floor holds.
func (f *Floor) Paced() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current == paced
}

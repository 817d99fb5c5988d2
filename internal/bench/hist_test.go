package bench

import (
	"testing"
	"time"
)

func TestBucketsCoverEveryValueInOrder(t *testing.T) {
	// Each value's bucket holds it, and buckets are ordered as values are.
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 1 << 20, 1<<20 + 12345, 1 << 40, 1<<63 - 1, 1<<64 - 1} {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucket of %d is %d, below the previous %d", v, i, prev)
		}
		prev = i
		if i >= numBuckets {
			t.Fatalf("bucket of %d is %d, past the end", v, i)
		}
		if hi := bucketHigh(i); hi < v {
			t.Fatalf("bucket %d of %d ends at %d", i, v, hi)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("value %d also fits bucket %d", v, i-1)
		}
	}
}

func TestBucketWidthUnderOnePercent(t *testing.T) {
	for i := subBuckets; i < numBuckets; i++ {
		lo, hi := bucketHigh(i-1)+1, bucketHigh(i)
		if float64(hi-lo) > 0.01*float64(lo) {
			t.Fatalf("bucket %d spans %d..%d", i, lo, hi)
		}
	}
}

func TestQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 {
		t.Fatal("empty histogram has a p99")
	}
	// 1..1000 µs: p50 is 500 µs, p99 990 µs, p99.9 999 µs, within 1%.
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.Quantile(c.q)
		if got < c.want || float64(got-c.want) > 0.01*float64(c.want) {
			t.Errorf("q%v = %v, want %v within 1%%", c.q, got, c.want)
		}
	}
	if h.Quantile(1) != h.Max() {
		t.Errorf("q1 = %v, max %v", h.Quantile(1), h.Max())
	}
}

func TestMerge(t *testing.T) {
	var a, b Histogram
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(-time.Second)
	a.Merge(&b)
	if a.Count() != 3 || a.Max() != 3*time.Millisecond || a.Quantile(0.1) != 0 {
		t.Fatalf("merged: count %d max %v q0.1 %v", a.Count(), a.Max(), a.Quantile(0.1))
	}
}

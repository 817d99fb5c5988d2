package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// utime 250 and stime 50 ticks; the name holds a space and a ')'.
	stat := "4242 (clear ance) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 8 0 100 800000000 5000 18446744073709551615\n"
	d, err := parseStat([]byte(stat))
	if err != nil || d != 3*time.Second {
		t.Fatalf("got %v, %v", d, err)
	}
	if _, err := parseStat([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("short line accepted")
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tclearance\nVmPeak:\t  900000 kB\nVmHWM:\t   29440 kB\nVmRSS:\t   20000 kB\n"
	n, err := parseStatus([]byte(status), "VmHWM:")
	if err != nil || n != 29440*1024 {
		t.Fatalf("got %d, %v", n, err)
	}
	if _, err := parseStatus([]byte(status), "VmSwap:"); err == nil {
		t.Fatal("missing field found")
	}
}

// The readers work on this very process.
func TestOwnProcess(t *testing.T) {
	if d, err := ProcCPU(os.Getpid()); err != nil || d <= 0 {
		t.Fatalf("cpu %v, %v", d, err)
	}
	peak, err := ProcPeakRSS(os.Getpid())
	if err != nil || peak <= 0 {
		t.Fatalf("peak rss %d, %v", peak, err)
	}
	n, err := ProcRSS(os.Getpid())
	if err != nil || n <= 0 || n > peak+1<<20 {
		t.Fatalf("rss %d (peak %d), %v", n, peak, err)
	}
	if a, err := ProcRSSAnon(os.Getpid()); err != nil || a <= 0 || a > n+1<<20 {
		t.Fatalf("anonymous rss %d (rss %d), %v", a, n, err)
	}
}

package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseSchedstat(t *testing.T) {
	d, err := parseSchedstat([]byte("123456789 4242 17\n"))
	if err != nil || d != 123456789*time.Nanosecond {
		t.Fatalf("got %v, %v", d, err)
	}
	if _, err := parseSchedstat([]byte("x 1 2")); err == nil {
		t.Fatal("garbage accepted")
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
	if n, err := ProcPeakRSS(os.Getpid()); err != nil || n <= 0 {
		t.Fatalf("peak rss %d, %v", n, err)
	}
}

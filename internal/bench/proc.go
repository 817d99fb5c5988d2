package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100
// on every Linux architecture Go supports).
const userHZ = 100

// ProcCPU is the CPU time process pid has used, user and system, summed
// over all its threads (/proc/PID/stat; /proc/PID/schedstat would count
// only the main thread), to 10 ms.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its last ')'. utime and stime are fields
	// 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %q", b)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// ProcPeakRSS is the peak resident set size of process pid in bytes
// (VmHWM in /proc/PID/status).
func ProcPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatus(b, "VmHWM:")
}

func parseStatus(b []byte, field string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("status: %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("status: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("status: no %s", field)
}

// ProcRSS is the resident set size of process pid in bytes now (VmRSS in
// /proc/PID/status).
func ProcRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatus(b, "VmRSS:")
}

// ProcRSSAnon is the part of process pid's RSS that is its own memory
// now (RssAnon in /proc/PID/status: heap, stacks; not the pages of its
// binary and libraries, which it shares with the page cache).
func ProcRSSAnon(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatus(b, "RssAnon:")
}

// ResetPeakRSS sets the peak RSS of process pid back to its current RSS
// (Linux clear_refs), so that the next ProcPeakRSS is the peak of what
// follows. The process must be the caller's own.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

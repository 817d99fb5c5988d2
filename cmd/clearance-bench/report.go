package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/clearance-gw/clearance/internal/bench"
)

const mib = 1 << 20

// summary is a target's figures in one scenario over every round.
type summary struct {
	rate      float64 // median req/s
	cpuPerReq float64 // median µs
	peakRSS   int64   // highest of the rounds
	growth    int64   // highest peak minus the RSS at the start of its run
	latency   bench.Histogram
	requests  uint64
	bad       uint64 // unexpected statuses and errors
	lastBad   int
	ours      bool
}

func summarize(ms []measurement, ours bool) summary {
	s := summary{ours: ours}
	var rates, cpus []float64
	for _, m := range ms {
		rates = append(rates, m.res.Rate())
		if m.res.Requests > 0 {
			cpus = append(cpus, float64(m.cpu.Microseconds())/float64(m.res.Requests))
		}
		s.peakRSS = max(s.peakRSS, m.peakRSS)
		s.growth = max(s.growth, m.peakRSS-m.rssBase)
		s.latency.Merge(&m.res.Latency)
		s.requests += m.res.Requests
		s.bad += m.res.Unexpected + m.res.Errors
		if m.res.LastStatus != 0 {
			s.lastBad = m.res.LastStatus
		}
	}
	s.rate, s.cpuPerReq = median(rates), median(cpus)
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// report prints one Markdown table of every scenario and target, then each
// scenario's target and whether this run met it.
func report(w io.Writer, o *options, scenarios []scenario, proxies []*target,
	results map[string]map[string][]measurement, rsaSigns float64) {
	fmt.Fprintf(w, "%d rounds of %s per target and scenario, %d connections, GOMAXPROCS %d, %s/%s; medians of the rounds, latency over all rounds.\n\n",
		o.rounds, o.duration, o.conns, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(w, "| scenario | target | req/s | × bare | p50 | p99 | p99.9 | CPU µs/req | peak RSS | bad answers |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	var verdicts []string
	for _, sc := range scenarios {
		byTarget := results[sc.name]
		names := []string{}
		if sc.issue != "" {
			names = append(names, "clearance "+sc.issue)
		} else {
			for _, t := range proxies {
				names = append(names, t.name)
			}
		}
		sums := map[string]summary{}
		for _, n := range names {
			ours := n != "bare" && n != "clearance" && sc.issue == ""
			sums[n] = summarize(byTarget[n], !ours)
		}
		bare, hasBare := sums["bare"]
		for _, n := range names {
			s := sums[n]
			ratio := "—"
			if hasBare && bare.rate > 0 {
				ratio = fmt.Sprintf("%.2f", s.rate/bare.rate)
			}
			cpu, rss := "—", "—"
			if s.ours {
				cpu = fmt.Sprintf("%.0f", s.cpuPerReq)
				rss = fmt.Sprintf("%.1f MiB", float64(s.peakRSS)/mib)
			}
			bad := fmt.Sprint(s.bad)
			if s.bad > 0 {
				bad += fmt.Sprintf(" (e.g. %d)", s.lastBad)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s |\n", sc.name, n, s.rate, ratio,
				ms(s.latency.Quantile(0.5)), ms(s.latency.Quantile(0.99)), ms(s.latency.Quantile(0.999)), cpu, rss, bad)
		}
		if v := verdict(sc, sums, rsaSigns); v != "" {
			verdicts = append(verdicts, v)
		}
	}
	fmt.Fprintln(w)
	if rsaSigns > 0 {
		fmt.Fprintf(w, "crypto/rsa alone, RSA-2048 PKCS #1 v1.5 signatures on %d cores: %.0f/s\n\n", runtime.GOMAXPROCS(0), rsaSigns)
	}
	fmt.Fprintln(w, "| scenario | target | this run | met |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, v := range verdicts {
		fmt.Fprintln(w, v)
	}
}

func verdict(sc scenario, sums map[string]summary, rsaSigns float64) string {
	mark := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	g, bare := sums["clearance"], sums["bare"]
	ratio := 0.0
	if bare.rate > 0 {
		ratio = g.rate / bare.rate
	}
	switch sc.name {
	case "valid":
		dp99 := g.latency.Quantile(0.99) - bare.latency.Quantile(0.99)
		ok := ratio >= 1.0 && dp99 <= 200*time.Microsecond && g.peakRSS <= 20*mib && g.bad == 0
		return fmt.Sprintf("| %s | %s | %.2f× bare, p99 %+.2f ms, peak RSS %.1f MiB | %s |", sc.name, sc.goal, ratio,
			float64(dp99)/float64(time.Millisecond), float64(g.peakRSS)/mib, mark(ok))
	case "distinct-10k":
		return fmt.Sprintf("| %s | %s | %.2f× bare | %s |", sc.name, sc.goal, ratio, mark(ratio >= 0.8 && g.bad == 0))
	case "invalid-signature", "expired", "no-token", "wrong-scope":
		return fmt.Sprintf("| %s | %s | %.2f× bare | %s |", sc.name, sc.goal, ratio, mark(ratio >= 2.5 && g.bad == 0))
	case "flood-distinct-bad":
		return fmt.Sprintf("| %s | %s | +%.1f MiB over %d distinct tokens | %s |", sc.name, sc.goal,
			float64(g.growth)/mib, g.requests, mark(g.growth <= 10*mib && g.bad == 0))
	case "issue-RS256":
		s := sums["clearance RS256"]
		return fmt.Sprintf("| %s | %s | %.0f tokens/s, %.2f× crypto/rsa (%.0f/s) | %s |", sc.name, sc.goal,
			s.rate, s.rate/rsaSigns, rsaSigns, mark(s.rate >= 0.8*rsaSigns && s.bad == 0))
	case "issue-ES256":
		s := sums["clearance ES256"]
		return fmt.Sprintf("| %s | %s | %.0f tokens/s | %s |", sc.name, sc.goal, s.rate, mark(s.rate >= 8000 && s.bad == 0))
	}
	return ""
}

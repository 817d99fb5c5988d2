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
	peakAnon  int64   // highest own memory (RssAnon) seen in the rounds
	growth    int64   // highest peak minus the RSS after the warm-up
	fromReady int64   // highest peak minus the RSS of the process when ready
	latency   bench.Histogram
	requests  uint64
	bad       uint64 // unexpected statuses and errors
	lastBad   int
	ours      bool  // a process the bench started: CPU and memory are known
	fetches   int64 // most JWKS fetches in one round
	// revoked-1pct: fewest tokens revoked, and fewest refusals after the
	// revocation, in one round.
	revoked      int
	refusedAfter int64
}

func summarize(ms []measurement, ours bool) summary {
	s := summary{ours: ours}
	var rates, cpus []float64
	for i, m := range ms {
		rates = append(rates, m.res.Rate())
		if m.res.Requests > 0 {
			cpus = append(cpus, float64(m.cpu.Microseconds())/float64(m.res.Requests))
		}
		s.peakRSS = max(s.peakRSS, m.peakRSS)
		s.peakAnon = max(s.peakAnon, m.peakAnon)
		s.growth = max(s.growth, m.peakRSS-m.rssWarm)
		s.fromReady = max(s.fromReady, m.peakRSS-m.rssReady)
		s.latency.Merge(&m.res.Latency)
		s.requests += m.res.Requests
		s.bad += m.res.Unexpected + m.res.Errors
		if m.res.LastStatus != 0 {
			s.lastBad = m.res.LastStatus
		}
		s.fetches = max(s.fetches, m.fetches)
		if i == 0 {
			s.revoked, s.refusedAfter = m.notes.revoked, m.notes.refusedAfter
		}
		s.revoked, s.refusedAfter = min(s.revoked, m.notes.revoked), min(s.refusedAfter, m.notes.refusedAfter)
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

// clientName names the load generator's client as the report says it.
func clientName(c string) string {
	if c == "net/http" {
		return "net/http"
	}
	return "raw HTTP/1.1"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// verdictInput is what a scenario's verdict is judged on.
type verdictInput struct {
	sums     map[string]summary            // this scenario's, by target
	all      map[string]map[string]summary // every scenario's
	rsaSigns rsaRate
	duration time.Duration // of one measured run
}

func (v verdictInput) gw() summary   { return v.sums["clearance"] }
func (v verdictInput) bare() summary { return v.sums["bare"] }

// ratio is the gateway's req/s over the bare proxy's.
func (v verdictInput) ratio() float64 {
	if b := v.bare(); b.rate > 0 {
		return v.gw().rate / b.rate
	}
	return 0
}

// report prints one Markdown table of every scenario and target, then each
// scenario's target and whether this run met it.
func report(w io.Writer, o *options, scenarios []*scenario, proxies []*target,
	results map[string]map[string][]measurement, rsaSigns rsaRate) {
	fmt.Fprintf(w, "%d rounds of %s per target and scenario, %d connections, %s client, GOMAXPROCS %d, %s/%s; a fresh process per target, scenario and round; medians of the rounds, latency over all rounds.\n\n",
		o.rounds, o.duration, o.conns, clientName(o.client), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	all := map[string]map[string]summary{}
	names := map[string][]string{}
	for _, sc := range scenarios {
		all[sc.name] = map[string]summary{}
		for _, t := range sc.targets(proxies) {
			names[sc.name] = append(names[sc.name], t.name)
			all[sc.name][t.name] = summarize(results[sc.name][t.name], !t.external)
		}
	}
	fmt.Fprintln(w, "| scenario | target | req/s | × bare | p50 | p99 | p99.9 | CPU µs/req | peak RSS | of it own | bad answers |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, sc := range scenarios {
		sums := all[sc.name]
		bare, hasBare := sums["bare"]
		for _, n := range names[sc.name] {
			s := sums[n]
			ratio := "—"
			if hasBare && bare.rate > 0 {
				ratio = fmt.Sprintf("%.2f", s.rate/bare.rate)
			}
			cpu, rss, own := "—", "—", "—"
			if s.ours {
				cpu = fmt.Sprintf("%.0f", s.cpuPerReq)
				rss = fmt.Sprintf("%.1f MiB", float64(s.peakRSS)/mib)
				own = fmt.Sprintf("%.1f MiB", float64(s.peakAnon)/mib)
			}
			bad := fmt.Sprint(s.bad)
			if s.bad > 0 {
				bad += fmt.Sprintf(" (e.g. %d)", s.lastBad)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n", sc.name, n, s.rate, ratio,
				ms(s.latency.Quantile(0.5)), ms(s.latency.Quantile(0.99)), ms(s.latency.Quantile(0.999)), cpu, rss, own, bad)
		}
	}
	fmt.Fprintln(w)
	var gen []float64
	for _, byTarget := range results {
		for _, ms := range byTarget {
			for _, m := range ms {
				if m.res.Requests > 0 {
					gen = append(gen, perRequest(m.genCPU, m.res))
				}
			}
		}
	}
	if len(gen) > 0 {
		fmt.Fprintf(w, "load generator (this process, %s client): %.1f CPU µs per request, median of %d measurements (%.1f to %.1f)\n\n",
			clientName(o.client), median(gen), len(gen), slices.Min(gen), slices.Max(gen))
	}
	if rsaSigns.perSec > 0 {
		fmt.Fprintf(w, "crypto/rsa alone, RSA-2048 PKCS #1 v1.5 signatures on %d cores: %.0f/s, %.0f CPU µs each\n\n",
			runtime.GOMAXPROCS(0), rsaSigns.perSec, rsaSigns.cpu)
	}
	fmt.Fprintln(w, "| scenario | target | this run | met |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, sc := range scenarios {
		if sc.verdict == nil {
			continue
		}
		got, ok := sc.verdict(verdictInput{sums: all[sc.name], all: all, rsaSigns: rsaSigns, duration: o.duration})
		met := "**no**"
		if ok {
			met = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", sc.name, sc.goal, got, met)
	}
}

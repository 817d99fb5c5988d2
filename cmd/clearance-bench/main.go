// Command clearance-bench measures the gateway against a bare reverse
// proxy on this machine: it starts, on loopback, a sample upstream, a bare
// httputil.ReverseProxy and the clearance gateway (each its own process, so
// that CPU time and peak memory are each one's own), runs the same
// closed-loop load against each, interleaved in rounds, and prints req/s,
// latency percentiles, CPU µs per request, peak RSS and the ratio to the
// bare proxy, with the performance targets each scenario is held to. Each
// measurement runs on a fresh process of its target, so that no scenario's
// figures include what an earlier one left behind.
//
//	go run ./cmd/clearance-bench                  # every scenario, 3 rounds of 5 s
//	go run ./cmd/clearance-bench -duration 2s -rounds 1 -scenarios valid,invalid-signature
//	go run ./cmd/clearance-bench -target krakend=http://127.0.0.1:8081
//	go run ./cmd/clearance-bench -client net/http  # load through net/http's client
//
// The load generator writes and parses HTTP/1.1 itself (bench.RunRaw), a
// few CPU µs per request on cores it shares with what it measures;
// -client net/http sends through net/http's client instead.
//
// The gateway binary is built from this module unless -gateway names one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"
)

type targetFlag []namedURL

type namedURL struct {
	name string
	url  string
}

func (t *targetFlag) String() string { return fmt.Sprint(*t) }

func (t *targetFlag) Set(s string) error {
	name, u, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=URL, got %q", s)
	}
	if p, err := url.Parse(u); err != nil || p.Host == "" {
		return fmt.Errorf("%s: not an absolute URL", u)
	}
	*t = append(*t, namedURL{name, strings.TrimRight(u, "/")})
	return nil
}

func main() {
	var o options
	flag.StringVar(&o.role, "role", "", "internal: run as `upstream` or `bare` (the driver starts these itself)")
	flag.StringVar(&o.listen, "listen", "127.0.0.1:0", "internal: address of a role's listener")
	flag.StringVar(&o.upstream, "upstream", "", "internal: the bare proxy's upstream URL")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of one measurement")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each measurement (every measurement starts a fresh process)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each measures every target in every scenario once")
	flag.IntVar(&o.conns, "conns", 32, "concurrent connections (closed loop)")
	flag.StringVar(&o.gateway, "gateway", "", "a clearance binary to run (default: built from this module)")
	flag.StringVar(&o.scenarios, "scenarios", "", "comma-separated scenarios to run (default: all; -list shows them)")
	flag.BoolVar(&o.list, "list", false, "list the scenarios and exit")
	flag.StringVar(&o.client, "client", "raw", "the load generator's HTTP client: `raw` (HTTP/1.1 written and parsed by the bench, a few CPU µs per request) or net/http")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the bench itself (the load generator) to `FILE`")
	flag.Var(&o.targets, "target", "another proxy to measure, as `NAME=URL` (its route must forward /v1/charts/ to the upstream printed at start; repeatable)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if o.client != "raw" && o.client != "net/http" {
		fmt.Fprintf(os.Stderr, "clearance-bench: -client %q: want raw or net/http\n", o.client)
		os.Exit(2)
	}
	switch o.role {
	case "":
		err = withCPUProfile(o.cpuProfile, func() error { return drive(ctx, &o) })
	case "upstream", "bare":
		err = serveRole(ctx, &o)
	default:
		err = fmt.Errorf("unknown role %q", o.role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clearance-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	role, listen, upstream string
	duration, warmup       time.Duration
	rounds, conns          int
	gateway, scenarios     string
	cpuProfile             string
	client                 string // the load generator's: "raw" or "net/http"
	list                   bool
	targets                targetFlag
}

// withCPUProfile runs f, profiling this process into path unless it is "".
func withCPUProfile(path string, f func() error) error {
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return err
	}
	err = f()
	pprof.StopCPUProfile()
	return errors.Join(err, out.Close())
}

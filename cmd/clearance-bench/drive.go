package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clearance-gw/clearance/internal/bench"
)

// target is one proxy (or token endpoint) under load.
type target struct {
	name string
	url  string
	proc *process // nil: not ours, no CPU or memory figures
	bare bool     // forwards everything: expects 200 whatever the token
	alg  string   // gateways: tokens.alg
}

// scenario is one kind of request, sent to every proxy target (or, for
// issuance, to the gateway of one algorithm).
type scenario struct {
	name   string
	expect int                              // the gateway's status
	tokens func(w, conns int) func() string // nil: no token
	// issue: POST the token endpoint of the gateway with this alg instead.
	issue string
	goal  string // the target, as printed
}

// measurement is one run of one scenario against one target.
type measurement struct {
	res     *bench.Result
	cpu     time.Duration // of the target's process
	peakRSS int64         // of the target's process, bytes
	rssBase int64         // its RSS before the run
}

func drive(ctx context.Context, o *options) error {
	dir, err := os.MkdirTemp("", "clearance-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bin := o.gateway
	if bin == "" {
		fmt.Fprintln(os.Stderr, "building the gateway…")
		if bin, err = buildGateway(dir); err != nil {
			return err
		}
	}
	up, err := startRole("upstream")
	if err != nil {
		return err
	}
	defer up.stop()
	bare, err := startRole("bare", "-upstream", up.url)
	if err != nil {
		return err
	}
	defer bare.stop()
	key, err := newIssuerKey()
	if err != nil {
		return err
	}
	gateways := map[string]*process{}
	secrets := map[string]string{}
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		gw, secret, err := startGateway(ctx, "clearance-"+alg, gatewaySetup{
			bin: bin, dir: dir + "/" + alg, alg: alg, upstream: up.url, jwks: key.jwks,
		})
		if err != nil {
			return err
		}
		defer gw.stop()
		gateways[alg], secrets[alg] = gw, secret
	}
	gw := gateways["RS256"]
	fmt.Fprintf(os.Stderr, "upstream %s, bare proxy %s, gateway %s (admin %s)\n", up.url, bare.url, gw.url, gw.admin)

	scenarios, err := buildScenarios(o, gw, secrets["RS256"], key)
	if err != nil {
		return err
	}
	if o.list {
		for _, s := range scenarios {
			fmt.Printf("%-22s %s\n", s.name, s.goal)
		}
		return nil
	}
	if o.scenarios != "" {
		want := strings.Split(o.scenarios, ",")
		scenarios = slices.DeleteFunc(scenarios, func(s scenario) bool { return !slices.Contains(want, s.name) })
		if len(scenarios) == 0 {
			return fmt.Errorf("no scenario named in -scenarios %q (-list shows them)", o.scenarios)
		}
	}
	proxies := []*target{{name: "bare", url: bare.url, proc: bare, bare: true}, {name: "clearance", url: gw.url, proc: gw, alg: "RS256"}}
	for _, t := range o.targets {
		proxies = append(proxies, &target{name: t.name, url: t.url})
	}

	var rsaSigns float64
	if slices.ContainsFunc(scenarios, func(s scenario) bool { return s.issue == "RS256" }) {
		rsaSigns = rsaSignRate(time.Second)
	}

	client := bench.NewClient(o.conns)
	results := map[string]map[string][]measurement{} // scenario → target → rounds
	warmed := map[string]bool{}
	for round := range o.rounds {
		for _, s := range scenarios {
			ts := proxies
			if s.issue != "" {
				ts = []*target{{name: "clearance " + s.issue, url: gateways[s.issue].url, proc: gateways[s.issue], alg: s.issue}}
			}
			for _, t := range ts {
				load := s.load(o, t, secrets)
				if k := s.name + "\x00" + t.name; !warmed[k] && o.warmup > 0 {
					warm := load
					warm.Duration = o.warmup
					bench.Run(ctx, client, warm)
					warmed[k] = true
				}
				m, err := measure(ctx, client, t, load)
				if err != nil {
					return err
				}
				if results[s.name] == nil {
					results[s.name] = map[string][]measurement{}
				}
				results[s.name][t.name] = append(results[s.name][t.name], m)
				fmt.Fprintf(os.Stderr, "round %d %-22s %-16s %9.0f req/s  unexpected %d errors %d\n",
					round+1, s.name, t.name, m.res.Rate(), m.res.Unexpected, m.res.Errors)
				client.CloseIdleConnections()
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
	report(os.Stdout, o, scenarios, proxies, results, rsaSigns)
	return nil
}

// load is the closed loop of s against t.
func (s scenario) load(o *options, t *target, secrets map[string]string) bench.Load {
	l := bench.Load{Conns: o.conns, Duration: o.duration, Expect: s.expect}
	if t.bare {
		l.Expect = http.StatusOK
	}
	if s.issue != "" {
		secret := secrets[s.issue]
		l.Expect = http.StatusOK
		l.Worker = func(int) func() *http.Request {
			return func() *http.Request { return tokenRequest(t.url, secret, "charts") }
		}
		return l
	}
	l.Worker = func(w int) func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, t.url+"/v1/charts/EDDF", nil)
		if s.tokens == nil {
			return func() *http.Request { return req }
		}
		next := s.tokens(w, o.conns)
		return func() *http.Request {
			req.Header["Authorization"] = []string{next()}
			return req
		}
	}
	return l
}

// measure runs l against t, with the CPU time and peak RSS of t's process.
func measure(ctx context.Context, client *http.Client, t *target, l bench.Load) (measurement, error) {
	var m measurement
	var cpu0 time.Duration
	if t.proc != nil {
		if err := bench.ResetPeakRSS(t.proc.pid()); err != nil {
			return m, fmt.Errorf("reset peak RSS of %s: %w", t.name, err)
		}
		base, err := bench.ProcPeakRSS(t.proc.pid())
		if err != nil {
			return m, err
		}
		m.rssBase = base
		if cpu0, err = bench.ProcCPU(t.proc.pid()); err != nil {
			return m, err
		}
	}
	m.res = bench.Run(ctx, client, l)
	if t.proc != nil {
		cpu1, err := bench.ProcCPU(t.proc.pid())
		if err != nil {
			return m, err
		}
		m.cpu = cpu1 - cpu0
		if m.peakRSS, err = bench.ProcPeakRSS(t.proc.pid()); err != nil {
			return m, err
		}
	}
	return m, nil
}

func buildScenarios(o *options, gw *process, secret string, key *issuerKey) ([]scenario, error) {
	client := bench.NewClient(8)
	defer client.CloseIdleConnections()
	valid, err := issueToken(client, gw, secret, "charts")
	if err != nil {
		return nil, err
	}
	noScope, err := issueToken(client, gw, secret, "airports")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	expired, err := key.sign("expired-user", "charts", now.Add(-3*time.Hour), now.Add(-2*time.Hour))
	if err != nil {
		return nil, err
	}
	// 10,000 distinct valid tokens of the gateway's own issuer, as many
	// clients would hold: fetched over HTTP, 8 at a time.
	many := make([]string, 10_000)
	if o.list || o.scenarios == "" || slices.Contains(strings.Split(o.scenarios, ","), "distinct-10k") {
		fmt.Fprintln(os.Stderr, "issuing 10,000 tokens…")
		var wg sync.WaitGroup
		var next atomic.Int64
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(many); i = int(next.Add(1)) - 1 {
					t, err := issueToken(client, gw, secret, "charts")
					if err != nil {
						errs <- err
						return
					}
					many[i] = "Bearer " + t
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return nil, err
		}
	}

	one := func(tok string) func(int, int) func() string {
		h := "Bearer " + tok
		return func(int, int) func() string { return func() string { return h } }
	}
	return []scenario{
		{name: "valid", expect: 200, tokens: one(valid), goal: "≥ 1.0× bare, p99 ≤ bare + 0.2 ms, peak RSS ≤ 20 MiB"},
		{name: "distinct-10k", expect: 200, goal: "≥ 0.8× bare", tokens: func(w, conns int) func() string {
			i := w
			return func() string {
				t := many[i%len(many)]
				i += conns
				return t
			}
		}},
		{name: "invalid-signature", expect: 401, tokens: one(badSignature(valid)), goal: "≥ 2.5× bare"},
		{name: "expired", expect: 401, tokens: one(expired), goal: "≥ 2.5× bare"},
		{name: "no-token", expect: 401, goal: "≥ 2.5× bare"},
		{name: "wrong-scope", expect: 401, tokens: one(noScope), goal: "≥ 2.5× bare"},
		{name: "flood-distinct-bad", expect: 401, goal: "peak RSS ≤ start + 10 MiB", tokens: func(w, conns int) func() string {
			next := floodTokens(valid, w)
			return func() string { return "Bearer " + next() }
		}},
		{name: "issue-RS256", issue: "RS256", goal: "≥ 0.8× crypto/rsa signatures/s"},
		{name: "issue-ES256", issue: "ES256", goal: "≥ 8,000 tokens/s"},
		{name: "issue-EdDSA", issue: "EdDSA"},
	}, nil
}

// rsaSignRate is how many RS256 signatures (RSA-2048, PKCS #1 v1.5,
// SHA-256) crypto/rsa makes per second on every core of this machine.
func rsaSignRate(d time.Duration) float64 {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return 0
	}
	digest := sha256.Sum256([]byte("header.payload"))
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Since(start) < d {
				if _, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:]); err == nil {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

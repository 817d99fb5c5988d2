package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
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
	name     string
	url      string // of the process running now (set by start), or the external proxy's
	bare     bool   // the bare proxy: forwards everything, expects 200 whatever the token
	alg      string // a gateway: its tokens.alg
	external bool   // not ours (-target): no process, no CPU or memory figures
}

// measurement is one run of one scenario against one target.
type measurement struct {
	res      *bench.Result
	cpu      time.Duration // of the target's process, during the measured run
	peakRSS  int64         // of the target's process, bytes, from its readiness on
	peakAnon int64         // the highest of its own memory (RssAnon) seen during the measured run
	rssReady int64         // its RSS when it was ready, before any load
	rssWarm  int64         // its RSS after the warm-up, as the measured run began
	fetches  int64         // JWKS documents the bench's remote issuer served during the measured run
	genCPU   time.Duration // of the bench itself (the load generator), during the measured run
	notes    notes         // what the scenario itself observed
}

// notes are a scenario's own observations of one measured run.
type notes struct {
	revoked      int   // tokens revoked during the run
	refusedAfter int64 // 401s to revoked tokens sent after their revocation
}

// run is one invocation of the driver: the processes every scenario
// shares and the options.
type run struct {
	o      *options
	bin    string
	dir    string
	secret string // the secret of every bench client of every gateway
	up     *process
	key    *issuerKey  // the bench's issuer with an inline key set (expired tokens)
	remote *jwksServer // the bench's issuer whose key set is fetched (unknown kids)
	client *http.Client
	admins bool // print each gateway's admin address as it starts
}

func drive(ctx context.Context, o *options) error {
	scenarios := allScenarios()
	if o.list {
		for _, s := range scenarios {
			fmt.Printf("%-22s %s\n", s.name, s.goal)
		}
		return nil
	}
	if o.scenarios != "" {
		want := strings.Split(o.scenarios, ",")
		for _, w := range want {
			if !slices.ContainsFunc(scenarios, func(s *scenario) bool { return s.name == w }) {
				return fmt.Errorf("no scenario %q (-list shows them)", w)
			}
		}
		scenarios = slices.DeleteFunc(scenarios, func(s *scenario) bool { return !slices.Contains(want, s.name) })
	}

	dir, err := os.MkdirTemp("", "clearance-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := &run{o: o, dir: dir, bin: o.gateway, secret: randomSecret(), client: bench.NewClient(o.conns), admins: true}
	if r.bin == "" {
		fmt.Fprintln(os.Stderr, "building the gateway…")
		if r.bin, err = buildGateway(dir); err != nil {
			return err
		}
	}
	if r.up, err = startRole("upstream"); err != nil {
		return err
	}
	defer r.up.stop()
	if r.key, err = newIssuerKey(benchIssuer, "bench-1"); err != nil {
		return err
	}
	if r.remote, err = newJWKSServer(); err != nil {
		return err
	}
	defer r.remote.close()
	fmt.Fprintf(os.Stderr, "upstream %s, remote issuer's JWKS %s\n", r.up.url, r.remote.url)

	if err := r.prepare(ctx, scenarios); err != nil {
		return err
	}

	proxies := []*target{{name: "bare", bare: true}, {name: "clearance", alg: "RS256"}}
	for _, t := range o.targets {
		proxies = append(proxies, &target{name: t.name, url: t.url, external: true})
	}
	var rsaRuns []rsaRate // measured just before each issue-RS256 round, under the same load

	results := map[string]map[string][]measurement{} // scenario → target → rounds
	for round := range o.rounds {
		for _, s := range scenarios {
			if s.issue == "RS256" {
				rsaRuns = append(rsaRuns, rsaSignRate(time.Second))
			}
			for _, t := range s.targets(proxies) {
				m, err := r.measure(ctx, s, t, round)
				if err != nil {
					return fmt.Errorf("%s, %s, round %d: %w", s.name, t.name, round+1, err)
				}
				if results[s.name] == nil {
					results[s.name] = map[string][]measurement{}
				}
				results[s.name][t.name] = append(results[s.name][t.name], m)
				fmt.Fprintf(os.Stderr, "round %d %-22s %-16s %9.0f req/s  unexpected %d errors %d  generator %.0f CPU µs/req\n",
					round+1, s.name, t.name, m.res.Rate(), m.res.Unexpected, m.res.Errors, perRequest(m.genCPU, m.res))
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
	report(os.Stdout, o, scenarios, proxies, results, medianRSA(rsaRuns))
	return nil
}

// prepare makes what the scenarios need (tokens, a user, refresh tokens)
// with gateways started for it and stopped before the rounds begin, on the
// databases the measured gateways will use.
func (r *run) prepare(ctx context.Context, scenarios []*scenario) error {
	gws := map[string]*process{}
	defer func() {
		for _, p := range gws {
			p.stop()
		}
	}()
	gw := func(alg string) (*process, error) {
		if p := gws[alg]; p != nil {
			return p, nil
		}
		p, err := r.startGateway(ctx, alg)
		if err != nil {
			return nil, err
		}
		gws[alg] = p
		return p, nil
	}
	client := bench.NewClient(8)
	defer client.CloseIdleConnections()
	for _, s := range scenarios {
		if s.prepare == nil {
			continue
		}
		if err := s.prepare(ctx, &setup{run: r, client: client, gateway: gw}); err != nil {
			return fmt.Errorf("prepare %s: %w", s.name, err)
		}
	}
	return nil
}

// setup is what a scenario's prepare step may use.
type setup struct {
	*run
	client  *http.Client
	gateway func(alg string) (*process, error) // a running gateway of that alg
}

// start starts a fresh process for t: the bare proxy or a gateway on its
// algorithm's database. Nil for an external target.
func (r *run) start(ctx context.Context, t *target) (*process, error) {
	var p *process
	var err error
	switch {
	case t.external:
		return nil, nil
	case t.bare:
		p, err = startRole("bare", "-upstream", r.up.url)
	default:
		p, err = r.startGateway(ctx, t.alg)
	}
	if err != nil {
		return nil, err
	}
	t.url = p.url
	return p, nil
}

// measure runs s against a fresh process of t: started and ready, its peak
// RSS reset, then warmed up and measured, then stopped, so that no
// scenario's figures hold what an earlier one left behind (caches, memory).
func (r *run) measure(ctx context.Context, s *scenario, t *target, round int) (measurement, error) {
	var m measurement
	p, err := r.start(ctx, t)
	if err != nil {
		return m, err
	}
	if p != nil {
		defer p.stop()
		if r.admins && p.admin != "" {
			fmt.Fprintf(os.Stderr, "round %d %-22s %-16s admin %s (profiles under /debug/pprof/)\n", round+1, s.name, t.name, p.admin)
		}
		if err := bench.ResetPeakRSS(p.pid()); err != nil {
			return m, fmt.Errorf("reset peak RSS of %s: %w", t.name, err)
		}
		if m.rssReady, err = bench.ProcPeakRSS(p.pid()); err != nil {
			return m, err
		}
	}
	defer r.client.CloseIdleConnections()
	load := s.load(r, t, round)
	if s.prime != nil {
		if err := prime(ctx, r.client, t.url+"/v1/charts/EDDF", s.prime(), r.o.conns); err != nil {
			return m, fmt.Errorf("prime %s: %w", t.name, err)
		}
	}
	if r.o.warmup > 0 {
		warm := load
		warm.Duration = r.o.warmup
		r.load(ctx, warm)
	}
	var cpu0 time.Duration
	if p != nil {
		if m.rssWarm, err = bench.ProcRSS(p.pid()); err != nil {
			return m, err
		}
		if cpu0, err = bench.ProcCPU(p.pid()); err != nil {
			return m, err
		}
	}
	fetches0 := r.remote.fetches.Load()
	var side sync.WaitGroup
	var sideErr error
	if s.during != nil && p != nil && !t.bare {
		side.Go(func() { sideErr = s.during(ctx, r, p, round, &m.notes) })
	}
	gen0, err := bench.ProcCPU(os.Getpid())
	if err != nil {
		return m, err
	}
	stopSampling := func() {}
	if p != nil {
		stopSampling = sampleAnon(p.pid(), &m.peakAnon)
	}
	m.res = r.load(ctx, load)
	stopSampling()
	gen1, err := bench.ProcCPU(os.Getpid())
	if err != nil {
		return m, err
	}
	m.genCPU = gen1 - gen0
	side.Wait()
	if sideErr != nil {
		return m, sideErr
	}
	m.fetches = r.remote.fetches.Load() - fetches0
	if s.observe != nil && !t.bare && !t.external {
		s.observe(round, &m.notes)
	}
	if p != nil {
		cpu1, err := bench.ProcCPU(p.pid())
		if err != nil {
			return m, err
		}
		m.cpu = cpu1 - cpu0
		if m.peakRSS, err = bench.ProcPeakRSS(p.pid()); err != nil {
			return m, err
		}
	}
	return m, nil
}

// anonSampleInterval is how often the process's own memory is read
// during a measured run (the kernel keeps no peak of it).
const anonSampleInterval = 50 * time.Millisecond

// sampleAnon reads the RssAnon of pid every anonSampleInterval and keeps
// the highest in *peak, until the returned function is called.
func sampleAnon(pid int, peak *int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	read := func() {
		if n, err := bench.ProcRSSAnon(pid); err == nil {
			*peak = max(*peak, n)
		}
	}
	wg.Go(func() {
		t := time.NewTicker(anonSampleInterval)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				read()
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// load runs l with the load generator's client (-client).
func (r *run) load(ctx context.Context, l bench.Load) *bench.Result {
	if r.o.client == "net/http" {
		return bench.Run(ctx, r.client, l)
	}
	return bench.RunRaw(ctx, l)
}

// perRequest is cpu in µs per answer of res.
func perRequest(cpu time.Duration, res *bench.Result) float64 {
	if res.Requests == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(res.Requests)
}

// rsaRate is what crypto/rsa alone does on this machine.
type rsaRate struct {
	perSec float64 // RS256 signatures per second on every core
	cpu    float64 // CPU µs per signature
}

// medianRSA is the median of each figure of runs.
func medianRSA(runs []rsaRate) rsaRate {
	var rates, cpus []float64
	for _, r := range runs {
		rates, cpus = append(rates, r.perSec), append(cpus, r.cpu)
	}
	return rsaRate{perSec: median(rates), cpu: median(cpus)}
}

// rsaSignRate is how many RS256 signatures (RSA-2048, PKCS #1 v1.5,
// SHA-256) crypto/rsa makes per second on every core of this machine, and
// the CPU time each takes: on a machine shared with other work the rate
// falls, the CPU time much less.
func rsaSignRate(d time.Duration) rsaRate {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return rsaRate{}
	}
	digest := sha256.Sum256([]byte("header.payload"))
	var n atomic.Int64
	var wg sync.WaitGroup
	cpu0, _ := bench.ProcCPU(os.Getpid())
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
	elapsed := time.Since(start)
	cpu1, _ := bench.ProcCPU(os.Getpid())
	r := rsaRate{perSec: float64(n.Load()) / elapsed.Seconds()}
	if n.Load() > 0 {
		r.cpu = float64((cpu1 - cpu0).Microseconds()) / float64(n.Load())
	}
	return r
}

// prime sends one GET to url with each of the Authorization values, conns
// at a time, and fails on any answer but 200.
func prime(ctx context.Context, c *http.Client, url string, auths []string, conns int) error {
	next := make(chan string)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for range max(conns, 1) {
		wg.Go(func() {
			for a := range next {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Authorization", a)
				resp, err := c.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("%s: %s", url, resp.Status)
					return
				}
			}
		})
	}
	var err error
send:
	for _, a := range auths {
		select {
		case next <- a:
		case err = <-errs:
			break send
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

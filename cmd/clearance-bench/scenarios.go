package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clearance-gw/clearance/internal/bench"
)

// scenario is one kind of request, sent to every proxy target, or (issue
// set) to the token endpoint of the gateway of one algorithm.
type scenario struct {
	name string
	goal string // the target, as printed
	// issue is the tokens.alg of the gateway whose token endpoint the
	// scenario loads; "" for the proxy scenarios.
	issue string
	// prepare makes what the scenario needs (tokens, refresh tokens), once
	// before the rounds; nil when nothing.
	prepare func(ctx context.Context, s *setup) error
	// load is the closed loop against t in round.
	load func(r *run, t *target, round int) bench.Load
	// prime, when set, names "Bearer …" values each sent once (through
	// /v1/charts/EDDF) before the warm-up: the steady state of a fleet
	// whose tokens the gateway has each seen before, since a token is
	// verified once in its life and then served from the cache.
	prime func() []string
	// during, when set, runs beside the measured load against a gateway
	// (not the bare proxy) and returns before the load ends.
	during func(ctx context.Context, r *run, gw *process, round int, n *notes) error
	// observe, when set, adds what the scenario saw to a gateway's notes
	// once its measured load is over.
	observe func(round int, n *notes)
	// verdict says, from the figures of every scenario of the run, what
	// this one achieved and whether it met its goal; nil: no verdict line.
	verdict func(v verdictInput) (string, bool)
}

// targets are the targets s runs against.
func (s *scenario) targets(proxies []*target) []*target {
	if s.issue == "" {
		return proxies
	}
	return []*target{{name: "clearance " + s.issue, alg: s.issue}}
}

// Sizes of the token pools.
const (
	distinctTokens = 10_000
	revokedPool    = 1_000 // tokens per round in revoked-1pct
	revokedEvery   = 100   // one token in this many is revoked: 1%
)

// allScenarios returns every scenario, in the order they run. Their
// tokens are made by prepare, so listing them starts nothing.
func allScenarios() []*scenario {
	var (
		basicOnce sync.Once
		basicErr  error
		valid     string // client_credentials, scope charts
		noScope   string // scope airports only
		expired   string // of the bench's issuer, expired an hour ago
		badSig    string // valid with one character of its signature changed
		many      []string
		metered   string
		pools     [][]string // revoked-1pct: the tokens of each round
		chains    []string   // refresh-rotation: each worker's current refresh token
	)
	basic := func(ctx context.Context, s *setup) error {
		basicOnce.Do(func() {
			gw, err := s.gateway("RS256")
			if err != nil {
				basicErr = err
				return
			}
			if valid, err = issueToken(s.client, gw, clientID, s.secret, "charts"); err != nil {
				basicErr = err
				return
			}
			if noScope, err = issueToken(s.client, gw, clientID, s.secret, "airports"); err != nil {
				basicErr = err
				return
			}
			badSig = badSignature(valid)
			now := time.Now()
			expired, basicErr = s.key.sign("expired-user", "charts", now.Add(-3*time.Hour), now.Add(-2*time.Hour))
		})
		return basicErr
	}
	one := func(tok *string) func(int) func() string {
		return func(int) func() string {
			h := "Bearer " + *tok
			return func() string { return h }
		}
	}
	cycle := func(toks []string, conns int) func(w int) func() string {
		return func(w int) func() string {
			i := w
			return func() string {
				t := toks[i%len(toks)]
				i += conns
				return t
			}
		}
	}
	refusal := func(name string, tok *string) *scenario {
		var tokens func(int) func() string
		if tok != nil {
			tokens = one(tok)
		}
		return &scenario{name: name, goal: "≥ 2.5× bare", prepare: basic,
			load: func(r *run, t *target, _ int) bench.Load { return proxied(r, t, http.StatusUnauthorized, tokens) },
			verdict: func(v verdictInput) (string, bool) {
				return fmt.Sprintf("%.2f× bare", v.ratio()), v.ratio() >= 2.5 && v.gw().bad == 0
			}}
	}
	issue := func(alg, goal string, verdict func(v verdictInput) (string, bool)) *scenario {
		return &scenario{name: "issue-" + alg, issue: alg, goal: goal, verdict: verdict,
			load: func(r *run, t *target, _ int) bench.Load {
				body := url.Values{"grant_type": {"client_credentials"}, "scope": {"charts"}}.Encode()
				return bench.Load{Conns: r.o.conns, Duration: r.o.duration, Expect: http.StatusOK,
					Worker: func(int) func() *http.Request {
						post := tokenPoster(t.url, clientID, r.secret)
						return func() *http.Request { return post(body) }
					}}
			}}
	}

	// revoked-1pct: the run of the gateway in force, shared by its load,
	// the revocation beside it and the observation after it.
	var revoking *revocationRun

	return []*scenario{
		{name: "valid", goal: "≥ 1.0× bare, p99 ≤ bare + 0.2 ms, peak RSS ≤ 20 MiB", prepare: basic,
			load: func(r *run, t *target, _ int) bench.Load { return proxied(r, t, http.StatusOK, one(&valid)) },
			verdict: func(v verdictInput) (string, bool) {
				g, b := v.gw(), v.bare()
				dp99 := g.latency.Quantile(0.99) - b.latency.Quantile(0.99)
				return fmt.Sprintf("%.2f× bare, p99 %+.2f ms, peak RSS %.1f MiB (%.1f MiB of it the process's own; the bare proxy's %.1f)",
						v.ratio(), float64(dp99)/float64(time.Millisecond), float64(g.peakRSS)/mib, float64(g.peakAnon)/mib, float64(b.peakAnon)/mib),
					v.ratio() >= 1.0 && dp99 <= 200*time.Microsecond && g.peakRSS <= 20*mib && g.bad == 0
			}},
		{name: "distinct-10k", goal: "≥ 0.8× bare",
			prepare: func(ctx context.Context, s *setup) error {
				fmt.Fprintf(os.Stderr, "issuing %d tokens…\n", distinctTokens)
				var err error
				many, err = issueMany(s, distinctTokens)
				return err
			},
			prime: func() []string { return many },
			load: func(r *run, t *target, _ int) bench.Load {
				return proxied(r, t, http.StatusOK, cycle(many, r.o.conns))
			},
			verdict: func(v verdictInput) (string, bool) {
				return fmt.Sprintf("%.2f× bare", v.ratio()), v.ratio() >= 0.8 && v.gw().bad == 0
			}},
		refusal("invalid-signature", &badSig),
		refusal("expired", &expired),
		refusal("no-token", nil),
		refusal("wrong-scope", &noScope),
		{name: "flood-distinct-bad", goal: "peak RSS ≤ warmed-up RSS + 10 MiB; ≤ 1 JWKS fetch per min_refetch_interval", prepare: basic,
			load: func(r *run, t *target, _ int) bench.Load {
				// Every request a token never seen before: every other one
				// a token of the gateway's issuer with a bad signature,
				// the others of the remote issuer with an unknown kid.
				return proxied(r, t, http.StatusUnauthorized, func(w int) func() string {
					bad, unknown := floodTokens(valid, w), unknownKidTokens(w)
					n := 0
					return func() string {
						n++
						if n%2 == 0 {
							return "Bearer " + unknown()
						}
						return "Bearer " + bad()
					}
				})
			},
			verdict: func(v verdictInput) (string, bool) {
				g := v.gw()
				allowed := int64(v.duration/remoteRefetch) + 1
				return fmt.Sprintf("+%.1f MiB over %d distinct tokens (+%.1f from the ready process); at most %d JWKS fetches in a %s run (interval %s; allowed %d)",
						float64(g.growth)/mib, g.requests, float64(g.fromReady)/mib, g.fetches, v.duration, remoteRefetch, allowed),
					g.growth <= 10*mib && g.fetches <= allowed && g.bad == 0
			}},
		{name: "revoked-1pct", goal: "× bare reported; after their revocation (POST /revoke) the 1% get 401, the others 200",
			prepare: func(ctx context.Context, s *setup) error {
				fmt.Fprintf(os.Stderr, "issuing %d tokens to revoke 1%% of…\n", revokedPool*s.o.rounds)
				all, err := issueMany(s, revokedPool*s.o.rounds)
				for i := range s.o.rounds {
					pools = append(pools, all[i*revokedPool:(i+1)*revokedPool])
				}
				return err
			},
			load: func(r *run, t *target, round int) bench.Load {
				rr := &revocationRun{tokens: pools[round], conns: r.o.conns, expectAll200: t.bare || t.external}
				if !rr.expectAll200 {
					revoking = rr
				}
				return bench.Load{Conns: r.o.conns, Duration: r.o.duration, Exchange: rr.exchange(t.url)}
			},
			during: func(ctx context.Context, r *run, gw *process, _ int, n *notes) error {
				return revoking.revoke(ctx, r, gw, n)
			},
			observe: func(_ int, n *notes) { n.refusedAfter = revoking.refusedAfter.Load() },
			verdict: func(v verdictInput) (string, bool) {
				g := v.gw()
				return fmt.Sprintf("%.2f× bare; %d of %d tokens revoked, refused %d times after, %d wrong answers",
						v.ratio(), g.revoked, revokedPool, g.refusedAfter, g.bad),
					g.bad == 0 && g.revoked > 0 && g.refusedAfter > 0
			}},
		{name: "metered-client", goal: "≥ 0.95× valid (clearance req/s, same run); every answer has RateLimit",
			prepare: func(ctx context.Context, s *setup) error {
				gw, err := s.gateway("RS256")
				if err != nil {
					return err
				}
				metered, err = issueToken(s.client, gw, meteredID, s.secret, "charts")
				return err
			},
			load: func(r *run, t *target, _ int) bench.Load {
				l := proxied(r, t, http.StatusOK, one(&metered))
				if t.bare || t.external {
					return l
				}
				// The answer must show that metering ran.
				worker := l.Worker
				l.Worker, l.Exchange = nil, func(w int) bench.Exchange {
					return bench.Exchange{Next: worker(w), Check: func(res *http.Response, _ []byte) bool {
						return res.StatusCode == http.StatusOK && res.Header.Get("RateLimit") != ""
					}}
				}
				return l
			},
			verdict: func(v verdictInput) (string, bool) {
				valid, ok := v.all["valid"]["clearance"]
				if !ok || valid.rate == 0 {
					return "valid not in this run", false
				}
				x := v.gw().rate / valid.rate
				return fmt.Sprintf("%.2f× valid (%.0f against %.0f req/s)", x, v.gw().rate, valid.rate), x >= 0.95 && v.gw().bad == 0
			}},
		issue("RS256", "≥ 0.8× crypto/rsa signatures/s", func(v verdictInput) (string, bool) {
			s := v.sums["clearance RS256"]
			// Also by CPU time, which other work on the machine moves less:
			// crypto/rsa's CPU per signature over the gateway's per token.
			byCPU := 0.0
			if s.cpuPerReq > 0 {
				byCPU = v.rsaSigns.cpu / s.cpuPerReq
			}
			return fmt.Sprintf("%.0f tokens/s, %.2f× crypto/rsa (%.0f/s); by CPU time %.2f× (%.0f µs per token, %.0f per signature)",
					s.rate, s.rate/v.rsaSigns.perSec, v.rsaSigns.perSec, byCPU, s.cpuPerReq, v.rsaSigns.cpu),
				s.rate >= 0.8*v.rsaSigns.perSec && s.bad == 0
		}),
		issue("ES256", "≥ 8,000 tokens/s", func(v verdictInput) (string, bool) {
			s := v.sums["clearance ES256"]
			return fmt.Sprintf("%.0f tokens/s", s.rate), s.rate >= 8000 && s.bad == 0
		}),
		issue("EdDSA", "tokens/s (no target)", nil),
		{name: "refresh-rotation", issue: "ES256", goal: "tokens/s (no target); each answer 200 with a new refresh token, used next",
			prepare: func(ctx context.Context, s *setup) error {
				if err := s.addUser(ctx, "ES256"); err != nil {
					return err
				}
				gw, err := s.gateway("ES256")
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "signing in %d times for refresh tokens…\n", s.o.conns)
				chains = make([]string, s.o.conns)
				for w := range chains {
					t, err := tokenCall(s.client, tokenRequest(gw.url, appID, s.secret, url.Values{
						"grant_type": {"password"}, "username": {benchUser}, "password": {benchPassword}, "scope": {"charts"}}))
					if err != nil {
						return err
					}
					if t.RefreshToken == "" {
						return fmt.Errorf("password grant: no refresh token")
					}
					chains[w] = t.RefreshToken
				}
				return nil
			},
			load: func(r *run, t *target, _ int) bench.Load {
				return bench.Load{Conns: r.o.conns, Duration: r.o.duration, Exchange: func(w int) bench.Exchange {
					post := tokenPoster(t.url, appID, r.secret)
					return bench.Exchange{
						Next: func() *http.Request {
							// url.Values.Encode's bytes: keys sorted, the value escaped.
							return post("grant_type=refresh_token&refresh_token=" + url.QueryEscape(chains[w]))
						},
						Check: func(res *http.Response, body []byte) bool {
							var a tokenAnswer
							if res.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil ||
								a.AccessToken == "" || a.RefreshToken == "" || a.RefreshToken == chains[w] {
								return false
							}
							chains[w] = a.RefreshToken
							return true
						},
					}
				}}
			},
			verdict: func(v verdictInput) (string, bool) {
				s := v.sums["clearance ES256"]
				return fmt.Sprintf("%.0f tokens/s, %.0f CPU µs/token", s.rate, s.cpuPerReq), s.bad == 0
			}},
	}
}

// proxied is a GET of the route through t, with the Authorization header
// from tokens (none when nil), expecting status from a gateway and 200
// from the bare proxy and other proxies.
func proxied(r *run, t *target, status int, tokens func(w int) func() string) bench.Load {
	if t.bare || t.external {
		status = http.StatusOK
	}
	return bench.Load{Conns: r.o.conns, Duration: r.o.duration, Expect: status,
		Worker: func(w int) func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, t.url+"/v1/charts/EDDF", nil)
			if tokens == nil {
				return func() *http.Request { return req }
			}
			next := tokens(w)
			return func() *http.Request {
				req.Header["Authorization"] = []string{next()}
				return req
			}
		}}
}

// issueMany issues n client_credentials tokens of the RS256 gateway, 8 at
// a time, as "Bearer …" header values.
func issueMany(s *setup, n int) ([]string, error) {
	gw, err := s.gateway("RS256")
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				t, err := issueToken(s.client, gw, clientID, s.secret, "charts")
				if err != nil {
					errs <- err
					return
				}
				out[i] = "Bearer " + t
			}
		})
	}
	wg.Wait()
	close(errs)
	return out, <-errs
}

// revocationRun is one run of revoked-1pct against one target: every
// worker cycles through the tokens; against a gateway, one in
// revokedEvery is revoked a third into the run.
type revocationRun struct {
	tokens       []string // "Bearer …"
	conns        int
	expectAll200 bool         // the bare proxy and other proxies: nothing is revoked there
	start, done  atomic.Int64 // the revocation's start and end, UnixNano; 0 before
	refusedAfter atomic.Int64 // 401s to revoked tokens sent after the revocation ended
}

func revokedIndex(i int) bool { return i%revokedEvery == 0 }

// exchange checks each answer against when its request was sent: a revoked
// token gets 200 before the revocation began and 401 once it has ended
// (either while it runs); every other token gets 200.
func (rr *revocationRun) exchange(base string) func(w int) bench.Exchange {
	return func(w int) bench.Exchange {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/charts/EDDF", nil)
		i, k, sent := w, 0, int64(0)
		return bench.Exchange{
			Next: func() *http.Request {
				k = i % len(rr.tokens)
				i += rr.conns
				req.Header["Authorization"] = []string{rr.tokens[k]}
				sent = time.Now().UnixNano()
				return req
			},
			Check: func(res *http.Response, _ []byte) bool {
				if rr.expectAll200 || !revokedIndex(k) {
					return res.StatusCode == http.StatusOK
				}
				start, done := rr.start.Load(), rr.done.Load()
				switch {
				case start == 0 || sent < start:
					return res.StatusCode == http.StatusOK
				case done != 0 && sent > done:
					if res.StatusCode == http.StatusUnauthorized {
						rr.refusedAfter.Add(1)
						return true
					}
					return false
				}
				return res.StatusCode == http.StatusOK || res.StatusCode == http.StatusUnauthorized
			},
		}
	}
}

// revoke waits a third of the run, then revokes one token in revokedEvery
// through the gateway's revocation endpoint (RFC 7009), as the client they
// were issued to.
func (rr *revocationRun) revoke(ctx context.Context, r *run, gw *process, n *notes) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(r.o.duration / 3):
	}
	client := bench.NewClient(1)
	defer client.CloseIdleConnections()
	rr.start.Store(time.Now().UnixNano())
	for k := 0; k < len(rr.tokens); k += revokedEvery {
		tok := rr.tokens[k][len("Bearer "):]
		if err := revokeToken(client, gw.url, clientID, r.secret, tok); err != nil {
			return err
		}
		n.revoked++
	}
	rr.done.Store(time.Now().UnixNano())
	return nil
}

package guard

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lestrrat-go/httprc"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearance-gw/clearance/config"
)

// Revocations answers whether a token was revoked: by its jti, its
// session (whole, or the generation sessionGen, the Principal's
// SessionGen, that a refresh has left behind), or a cutoff of its client or subject (a deleted client or user:
// the tokens of that incarnation, told by clientCreated and userCreated,
// the Principal's ClientCreated and UserCreated; a token without them by
// issuedAt, the iat claim in Unix seconds). clientID and subject are given
// only for tokens of the gateway's own issuer, "" otherwise. It must be
// cheap (an in-memory set): it is asked on every request.
// authz/revocation.Set implements it.
type Revocations interface {
	RevokedToken(jti, sessionID string, sessionGen int64, clientID, subject string, issuedAt, clientCreated, userCreated int64) bool
}

// Options are the collaborators of a Guard. Every field is optional.
type Options struct {
	Now         func() time.Time // default time.Now
	Logger      *slog.Logger     // default: discard
	Metrics     *Metrics         // default: registered on a private registry
	Revocations Revocations      // nil: nothing is revoked
	// Subscriptions answers routes that name a subscription; nil makes
	// such routes answer 503.
	Subscriptions Subscriptions
	// Origins knows the browser origins each client allows (CORS); nil
	// refuses every cross-origin request made with a local token.
	Origins OriginPolicy
	// Meter counts requests on metered routes against their client's plan
	// (SPEC §11); nil meters nothing.
	Meter Meter
	// HTTPClient fetches JWKS documents; nil means a client with a 10 s
	// timeout on a clone of the default transport.
	HTTPClient *http.Client
}

// refreshWindow is how often the jwk.Cache looks for due refreshes; a
// shorter refresh interval is raised to it. The intervals themselves come
// from the validated config (config.Load sets their defaults).
const refreshWindow = time.Minute

// Guard checks bearer tokens for routes: extract, verify (with the
// verified-token cache), revocation, then the policy steps.
type Guard struct {
	now     func() time.Time
	log     *slog.Logger
	metrics *Metrics
	revs    Revocations
	subs    Subscriptions
	origins OriginPolicy
	meter   Meter
	hits    tokenCacheCounters
	client  jwksClient
	cache   *jwk.Cache
	steps   []policyStep

	state atomic.Pointer[state]
	local atomic.Pointer[keyring]
	// keyGen counts changes of any key set (local or remote): a refusal
	// remembered under an older generation is not trusted.
	keyGen atomic.Uint64

	mu      sync.Mutex         // serialises Update
	ctx     context.Context    // lifetime of the jwk.Cache workers and JWKS requests
	remotes map[string]*remote // by URL, as registered in cache
}

// state is everything derived from one config; swapped as a whole.
type state struct {
	cfg     *config.Config
	leeway  time.Duration
	local   *issuerPolicy // nil when the config names no issuer
	trusted map[string]*issuerPolicy
	remotes map[string]*remote
	tokens  *tokenCache[cacheEntry] // nil: disabled
	refused *tokenCache[refusal]    // nil: disabled (with tokens)
	// scopeErrs holds each route's insufficient_scope errors once built
	// (*config.Route → *scopeErrors), so that refusing a token for its
	// scopes allocates nothing. Routes are immutable; the map lives as
	// long as the config.
	scopeErrs sync.Map
}

type scopeErrors struct{ all, any *Error }

// scopeErrorsOf returns route's insufficient_scope errors.
func (st *state) scopeErrorsOf(route *config.Route) *scopeErrors {
	if v, ok := st.scopeErrs.Load(route); ok {
		return v.(*scopeErrors)
	}
	status := route.InsufficientScopeStatus
	if status == 0 {
		status = http.StatusUnauthorized
	}
	e := &scopeErrors{
		all: ErrInsufficientScope.
			WithDescription("scope", "the token lacks a required scope").
			WithScope(strings.Join(route.Scopes, " ")).
			WithStatus(status),
		any: ErrInsufficientScope.
			WithDescription("scope", "the token has none of the accepted scopes").
			WithScope(strings.Join(route.AnyScopes, " ")).
			WithStatus(status),
	}
	v, _ := st.scopeErrs.LoadOrStore(route, e)
	return v.(*scopeErrors)
}

func (st *state) lookup(iss string) *issuerPolicy {
	if st.local != nil && iss == st.local.name {
		return st.local
	}
	return st.trusted[iss]
}

type cacheEntry struct {
	p        Principal
	deadline time.Time // exp truncated to the second, plus leeway
}

// refusal is a remembered verification failure: a token refused once is
// refused again from memory, without parsing or a signature check, while
// the key sets are those it was refused under (keyGen).
type refusal struct {
	err    *Error
	keyGen uint64
}

// lasting reports whether a verification failure holds for as long as the
// config and the key sets do. Not: a failure to reach the keys
// (transient), a token that is not valid yet (it becomes valid at its nbf
// or iat), or an unknown kid (the issuer may publish it, and only asking
// again, at most once per interval, tells; no signature is checked for it
// anyway). An expired token never becomes valid again.
func lasting(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Code == ErrInvalidToken.Code &&
		e != errNotYetValid && e != errIssuedInFuture && e != errUnknownKeyID
}

// policyStep is one decision taken after the token is verified and not
// revoked, on the request, its route (nil: authenticate only), the
// principal and the token as extracted once. The steps are listed in
// NewGuard, in the order they run.
type policyStep func(r *http.Request, route *config.Route, p Principal, tok string) error

// NewGuard builds a guard for cfg. ctx bounds the background JWKS refresh
// workers. Every jwks_url is fetched once; a failing one is logged and
// reported by Ready, and does not prevent the start.
func NewGuard(ctx context.Context, cfg *config.Config, opts Options) (*Guard, error) {
	g := &Guard{
		now:     opts.Now,
		log:     opts.Logger,
		metrics: opts.Metrics,
		revs:    opts.Revocations,
		subs:    opts.Subscriptions,
		origins: opts.Origins,
		meter:   opts.Meter,
		ctx:     ctx,
		remotes: map[string]*remote{},
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.log = g.log.With("component", "authz")
	if g.metrics == nil {
		g.metrics = NewMetrics(prometheus.NewRegistry())
	}
	g.hits = g.metrics.tokenCache()
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{
			Timeout:   fetchTimeout,
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
		}
	}
	g.client = jwksClient{ctx: ctx, c: hc}
	g.cache = jwk.NewCache(ctx, jwk.WithRefreshWindow(refreshWindow), jwk.WithErrSink(errSink{g}))
	g.steps = []policyStep{g.checkScopes, g.checkOrigin, g.checkSubscription, checkForwardable}
	if err := g.Update(cfg); err != nil {
		return nil, err
	}
	return g, nil
}

// Check decides whether r may use route: it returns the token's principal
// or an *Error for WriteError. A nil route only authenticates. A public
// route needs no token and yields the zero Principal. The returned
// Principal's Scopes may be shared with the verified-token cache: read only.
func (g *Guard) Check(r *http.Request, route *config.Route) (Principal, error) {
	if route != nil && route.Public {
		return Principal{}, nil
	}
	p, tok, err := g.authenticate(r)
	for i := 0; err == nil && i < len(g.steps); i++ {
		err = g.steps[i](r, route, p, tok)
	}
	if err != nil {
		g.fail(err)
		return Principal{}, err
	}
	// The plan step comes last, as it counts the request; its 429s are
	// counted by clearance_metered_requests_total, not as auth failures.
	if err := g.checkPlan(route, &p); err != nil {
		return Principal{}, err
	}
	return p, nil
}

func (g *Guard) fail(err error) {
	reason := "internal"
	if e, ok := err.(*Error); ok {
		reason = e.Reason
	} else if e := (*Error)(nil); errors.As(err, &e) {
		reason = e.Reason
	}
	g.metrics.authFailure(reason).Inc()
}

// authenticate is extract → verify (cached) → revoked?. It returns the
// token too, for the steps that pass it on.
func (g *Guard) authenticate(r *http.Request) (Principal, string, error) {
	tok, err := ExtractToken(r)
	if err != nil {
		return Principal{}, "", err
	}
	// ExtractToken returns only compact JWS: the cache is asked directly.
	p, err := g.verifyShaped(r.Context(), g.state.Load(), tok)
	if err != nil {
		return Principal{}, "", err
	}
	if g.revs != nil && g.revoked(&p) {
		return Principal{}, "", errRevoked
	}
	return p, tok, nil
}

// revoked asks the revocation set about p. Cutoffs of deleted clients and
// users apply only to local tokens: a trusted issuer's "alice" or
// "app" is another tenant's.
func (g *Guard) revoked(p *Principal) bool {
	var client, subject string
	if p.Local {
		client, subject = p.ClientID, p.Subject
	}
	return g.revs.RevokedToken(p.JTI, p.SessionID, p.SessionGen, client, subject, p.IssuedAt.Unix(), p.ClientCreated, p.UserCreated)
}

// verifyCached consults the verified-token cache, keyed by the SHA-256 of
// the token, before verifying. An entry is used only while the token is
// within its exp (plus leeway), by the same rule as verification.
//
// Refusals are remembered too, in a second cache of the same size, so that
// a bad token sent again costs a hash and a lookup rather than a parse and
// a signature check, which would make refusing dearer than accepting. Only
// lasting failures are kept, and each is forgotten when any key set
// changes (a key published later may verify it), when the config changes
// (a new state starts empty), or when newer entries push it out. A token
// that is not even shaped as a compact JWS is refused before hashing.
func (g *Guard) verifyCached(ctx context.Context, st *state, tok string) (Principal, error) {
	if err := checkCompact(tok); err != nil {
		return Principal{}, err
	}
	return g.verifyShaped(ctx, st, tok)
}

// verifyShaped is verifyCached for a token already known to be a compact
// JWS of at most MaxTokenSize (as ExtractToken returns): scanning it once
// more would cost as much as hashing it.
func (g *Guard) verifyShaped(ctx context.Context, st *state, tok string) (Principal, error) {
	if st.tokens == nil {
		p, _, err := g.verify(ctx, st, tok)
		return p, err
	}
	// The token is hashed in place: Sum256 only reads its input.
	key := sha256.Sum256(unsafe.Slice(unsafe.StringData(tok), len(tok)))
	if e, ok := st.tokens.Get(key); ok {
		if g.now().Truncate(time.Second).Before(e.deadline) {
			g.hits.hit.Inc()
			return e.p, nil
		}
		st.tokens.Remove(key)
	}
	// The generation is read before verifying: a refusal decided under
	// keys that change meanwhile is stored as already stale.
	gen := g.keyGen.Load()
	if r, ok := st.refused.Get(key); ok && r.keyGen == gen {
		g.hits.hit.Inc()
		return Principal{}, r.err
	}
	g.hits.miss.Inc()
	p, deadline, err := g.verify(ctx, st, tok)
	if err != nil {
		if lasting(err) {
			st.refused.Add(key, refusal{err: err.(*Error), keyGen: gen})
		}
		return Principal{}, err
	}
	st.tokens.Add(key, cacheEntry{p: p, deadline: deadline})
	return p, nil
}

// checkScopes is the scope policy: every route.Scopes, and one of
// route.AnyScopes.
func (g *Guard) checkScopes(_ *http.Request, route *config.Route, p Principal, _ string) error {
	if route == nil {
		return nil
	}
	if !p.Scopes.HasAll(route.Scopes) {
		return g.state.Load().scopeErrorsOf(route).all
	}
	if !p.Scopes.HasAny(route.AnyScopes) {
		return g.state.Load().scopeErrorsOf(route).any
	}
	return nil
}

// SetLocalKeys installs the public keys of the gateway's own issuer, each
// with kid and alg (private keys are reduced to their public part). A set
// with any unusable key is refused whole and the previous keys stay. When
// a kid disappears, the verified-token cache is cleared, so tokens of a
// withdrawn key stop working at once.
func (g *Guard) SetLocalKeys(set jwk.Set) error {
	kr := &keyring{byKID: map[string]*ringKey{}}
	if set != nil {
		var dropped []error
		kr, _, dropped = buildKeyring(set, ringOptions{strict: true})
		if len(dropped) > 0 {
			return fmt.Errorf("local keys: %w", errors.Join(dropped...))
		}
	}
	old := g.local.Swap(kr)
	g.keyGen.Add(1)
	if old != nil {
		for kid := range old.byKID {
			if _, ok := kr.byKID[kid]; !ok {
				if st := g.state.Load(); st != nil && st.tokens != nil {
					st.tokens.Purge()
				}
				break
			}
		}
	}
	return nil
}

// Ready reports whether the local keys are loaded and every jwks_url has
// been fetched successfully at least once. For a URL still without keys it
// tries one more (rate-limited) fetch.
func (g *Guard) Ready(ctx context.Context) error {
	var errs []error
	if kr := g.local.Load(); kr == nil || len(kr.byKID) == 0 {
		errs = append(errs, errors.New("local signing keys not loaded"))
	}
	st := g.state.Load()
	for _, r := range st.remotes {
		if r.ring.Load() == nil && r.refetch(ctx) == nil {
			errs = append(errs, fmt.Errorf("trusted issuer %q: keys not fetched from %s", r.label, r.url))
		}
	}
	return errors.Join(errs...)
}

// Update applies a reloaded config: Prepare, then commit.
func (g *Guard) Update(cfg *config.Config) error {
	commit, _, err := g.Prepare(cfg)
	if err != nil {
		return err
	}
	commit()
	return nil
}

// Prepare builds the guard's state for cfg without putting it in force,
// so that a reload can build every component's state before it swaps any.
// Issuers added or changed are registered and fetched once (a failed
// fetch is logged and reported by Ready, it does not refuse cfg).
//
// commit puts the state in force atomically: the verified-token cache
// starts empty, issuers removed are dropped. abort undoes the
// registrations and keeps the running state. Until one of them is called,
// other Prepare and Update calls wait; calling either again does nothing.
//
// cfg is expected to have passed config validation; a config the guard
// cannot use anyway (no config, an unusable inline key set) is an error,
// and the running state stays.
func (g *Guard) Prepare(cfg *config.Config) (commit, abort func(), err error) {
	g.mu.Lock()
	st, fresh, err := g.build(cfg)
	if err != nil {
		g.mu.Unlock()
		return nil, nil, err
	}
	var registered []*remote
	undo := func() {
		for _, r := range registered {
			g.restore(r.url)
		}
		g.mu.Unlock()
	}
	for _, r := range fresh {
		if err := g.register(r); err != nil {
			undo()
			return nil, nil, fmt.Errorf("trusted issuer %q: %w", r.label, err)
		}
		registered = append(registered, r)
	}
	var wg sync.WaitGroup
	for _, r := range fresh {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(g.ctx, fetchTimeout)
			defer cancel()
			_ = r.fetch(ctx) // logged and counted; Ready reports it
		})
	}
	wg.Wait()
	var once sync.Once
	commit = func() {
		once.Do(func() {
			g.state.Store(st)
			for u := range g.remotes {
				if _, ok := st.remotes[u]; !ok {
					_ = g.cache.Unregister(u)
				}
			}
			g.remotes = st.remotes
			g.mu.Unlock()
		})
	}
	abort = func() { once.Do(undo) }
	return commit, abort, nil
}

// restore puts back the registration of u that the running state uses, or
// removes u when the running state does not use it. g.mu is held.
func (g *Guard) restore(u string) {
	old := g.remotes[u]
	if old == nil {
		_ = g.cache.Unregister(u)
		return
	}
	if err := g.register(old); err != nil {
		g.log.Error("jwks registration not restored", "issuer", old.label, "error", err)
		return
	}
	// A new registration starts unfetched: fetch it, so its background
	// refresh runs again.
	ctx, cancel := context.WithTimeout(g.ctx, fetchTimeout)
	defer cancel()
	_ = old.fetch(ctx)
}

// build validates cfg and derives a state from it. fresh are the remotes
// that need a (new) registration.
func (g *Guard) build(cfg *config.Config) (*state, []*remote, error) {
	if cfg == nil {
		return nil, nil, errors.New("authz: no config")
	}
	leeway := cfg.Leeway.D()
	if leeway < 0 {
		return nil, nil, fmt.Errorf("leeway %s is negative", leeway)
	}
	st := &state{
		cfg:     cfg,
		leeway:  leeway,
		trusted: map[string]*issuerPolicy{},
		remotes: map[string]*remote{},
	}
	if cfg.TokenCacheSize > 0 {
		st.tokens = newTokenCache[cacheEntry](cfg.TokenCacheSize)
		st.refused = newTokenCache[refusal](cfg.TokenCacheSize)
	}
	if cfg.Issuer != "" {
		st.local = g.newIssuerPolicy(cfg.Issuer, true, []string{cfg.Tokens.Audience}, leeway)
	}

	var errs []error
	var fresh []*remote
	for i, ti := range cfg.TrustedIssuers {
		pol, r, isFresh, err := g.buildTrusted(st, ti, leeway)
		if err != nil {
			name := ti.Issuer
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			errs = append(errs, fmt.Errorf("trusted issuer %s: %w", name, err))
			continue
		}
		st.trusted[pol.name] = pol
		if r != nil {
			st.remotes[r.url] = r
			if isFresh {
				fresh = append(fresh, r)
			}
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return st, fresh, nil
}

func (g *Guard) buildTrusted(st *state, ti config.TrustedIssuer, leeway time.Duration) (*issuerPolicy, *remote, bool, error) {
	switch {
	case ti.Issuer == "":
		return nil, nil, false, errors.New("issuer is empty")
	case st.local != nil && ti.Issuer == st.local.name:
		return nil, nil, false, errors.New("is the gateway's own issuer")
	case st.trusted[ti.Issuer] != nil:
		return nil, nil, false, errors.New("listed twice")
	case len(ti.Audience) == 0:
		return nil, nil, false, errors.New("audience is required")
	}
	algs, err := parseAlgorithms(ti.Algorithms)
	if err != nil {
		return nil, nil, false, err
	}
	pol := g.newIssuerPolicy(ti.Issuer, false, []string(ti.Audience), leeway)
	pol.algs = algs

	switch {
	case ti.JWKS != "" && ti.JWKSURL != "":
		return nil, nil, false, errors.New("both jwks and jwks_url are set")
	case ti.JWKS != "":
		set, err := jwk.ParseString(ti.JWKS)
		if err != nil {
			return nil, nil, false, fmt.Errorf("inline jwks: %w", err)
		}
		kr, _, dropped := buildKeyring(set, ringOptions{algs: algs})
		for _, e := range dropped {
			g.log.Warn("inline jwks key ignored", "issuer", ti.Issuer, "error", e)
		}
		if len(kr.byKID) == 0 {
			return nil, nil, false, errors.New("inline jwks: no usable signing keys")
		}
		pol.static = kr
		return pol, nil, false, nil
	case ti.JWKSURL != "":
	case ti.JWKSFile != "":
		return nil, nil, false, errors.New("jwks_file was not loaded")
	default:
		return nil, nil, false, errors.New("no key source (jwks, jwks_file or jwks_url)")
	}

	u, err := url.Parse(ti.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, nil, false, fmt.Errorf("jwks_url %q is not an absolute http(s) URL", ti.JWKSURL)
	}
	set := remoteSettings{
		refresh:    max(ti.RefreshInterval.D(), refreshWindow),
		minRefetch: ti.MinRefetchInterval.D(),
		algs:       joinAlgs(algs),
	}
	if r := st.remotes[ti.JWKSURL]; r != nil {
		if r.settings != set {
			return nil, nil, false, fmt.Errorf("jwks_url %s is shared with issuer %q under other algorithms or intervals", ti.JWKSURL, r.label)
		}
		pol.remote = r
		return pol, r, false, nil
	}
	if r := g.remotes[ti.JWKSURL]; r != nil && r.settings == set && r.label == ti.Issuer {
		pol.remote = r
		return pol, r, false, nil
	}
	r := &remote{
		url:      ti.JWKSURL,
		label:    ti.Issuer,
		settings: set,
		cache:    g.cache,
		keyGen:   &g.keyGen,
		now:      g.now,
		log:      g.log,
		metrics:  g.metrics,
	}
	if old := g.remotes[ti.JWKSURL]; old != nil && old.settings.algs == set.algs {
		// Same keys, other schedule: keep the last good set while the new
		// registration fetches.
		r.ring.Store(old.ring.Load())
	}
	pol.remote = r
	return pol, r, true, nil
}

func (g *Guard) register(r *remote) error {
	algs, _ := parseAlgorithms(strings.Split(r.settings.algs, ","))
	return g.cache.Register(r.url,
		jwk.WithHTTPClient(g.client),
		jwk.WithRefreshInterval(r.settings.refresh),
		jwk.WithFetchWhitelist(jwk.NewMapWhitelist().Add(r.url)),
		jwk.WithPostFetcher(r.postFetch(algs)),
	)
}

// joinAlgs is the comparable form of an algorithm list: sorted, as the
// order an issuer lists them in changes nothing.
func joinAlgs(algs []jwa.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = a.String()
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

// errSink receives the jwk.Cache's background refresh failures.
type errSink struct{ g *Guard }

func (s errSink) Error(err error) {
	label := "unknown"
	var re *httprc.RefreshError
	if errors.As(err, &re) {
		if st := s.g.state.Load(); st != nil {
			if r := st.remotes[re.URL]; r != nil {
				label = r.label
			}
		}
	}
	s.g.metrics.jwksRefresh.WithLabelValues(label, "error").Inc()
	s.g.log.Warn("jwks background refresh failed", "issuer", label, "error", err)
}

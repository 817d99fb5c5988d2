// Package proxy is the gateway's HTTP front: the route table, the request
// id, access log and metrics around every request, the call to the token
// guard, and the httputil.ReverseProxy that forwards to the upstreams.
package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/clientip"
	"github.com/clearance-gw/clearance/internal/routepath"
)

// Guard decides whether a request may use a protected route.
type Guard interface {
	Check(r *http.Request, route *config.Route) (guard.Principal, error)
}

// Endpoint is one of the gateway's own handlers (token endpoint, discovery,
// portal...). Pattern is an exact path, or a prefix when it ends in "/"
// (a prefix "/p/" also matches "/p"). Endpoints are matched before routes
// and get the same request id, access log and metrics, labelled Name.
type Endpoint struct {
	Name    string
	Pattern string
	Handler http.Handler
}

// Options are the Handler's collaborators; every field is optional.
type Options struct {
	Logger    *slog.Logger     // default: discard
	Metrics   *Metrics         // default: none recorded
	Now       func() time.Time // default: time.Now
	Endpoints []Endpoint
	// OriginAllowed reports whether some client that may call the route
	// registered origin (for CORS preflights; SPEC: "allowed for that route
	// or any client"). Nil: only the route's allowed_origins count.
	OriginAllowed func(route *config.Route, origin string) bool
	// ClientAddr is the client address of a request for the access log
	// (clientip.Resolver.Addr, which knows the trusted proxies); the
	// connection's peer when nil.
	ClientAddr func(r *http.Request) netip.Addr
}

// Handler is the gateway's public http.Handler.
type Handler struct {
	guard   Guard
	log     *slog.Logger
	errLog  *log.Logger
	metrics *Metrics
	now     func() time.Time
	none    *routeMetrics
	buffers *bufferPool
	origins func(route *config.Route, origin string) bool
	client  func(r *http.Request) netip.Addr

	// table is the routes and endpoints in force, swapped whole.
	table atomic.Pointer[table]

	mu         sync.Mutex // serialises the swaps of table; guards transports
	transports map[transportKey]*http.Transport
}

type table struct {
	routes    map[string]*route // by canonical prefix (routepath.Canonical; "/" for the root)
	endpoints []endpoint        // longest pattern first
	realm     string
	maxHeader int // server.max_header_bytes; 0: no limit here
	// used are the transports of routes, to become Handler.transports
	// when the table is put in force.
	used map[transportKey]*http.Transport
}

type route struct {
	cfg     config.Route
	prefix  string // canonical (routepath.Canonical); "/" for the root
	depth   int    // segments in prefix, for strip_prefix
	target  *url.URL
	timeout time.Duration
	proxy   *httputil.ReverseProxy
	m       *routeMetrics
}

type endpoint struct {
	name    string
	pattern string // exact path, or the prefix without its trailing slash
	prefix  bool
	handler http.Handler
	m       *routeMetrics
}

// Defaults used when a route leaves a field at zero (config.Load fills
// them; literal configs may not).
const (
	defaultTimeout      = 30 * time.Second
	defaultDialTimeout  = 5 * time.Second
	defaultMaxIdleConns = 256
	tlsHandshakeTimeout = 10 * time.Second
	defaultRealm        = "clearance"
)

// New builds the handler for cfg.
func New(cfg *config.Config, guard Guard, opts Options) (*Handler, error) {
	h := &Handler{
		guard:      guard,
		log:        opts.Logger,
		metrics:    opts.Metrics,
		now:        opts.Now,
		buffers:    &bufferPool{},
		origins:    opts.OriginAllowed,
		client:     opts.ClientAddr,
		transports: map[transportKey]*http.Transport{},
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "proxy")
	h.errLog = slog.NewLogLogger(h.log.Handler(), slog.LevelWarn)
	if h.now == nil {
		h.now = time.Now
	}
	if h.client == nil {
		h.client = clientip.Peer
	}
	h.none = h.metrics.forRoute("none", false)
	commit, err := h.Prepare(cfg, opts.Endpoints)
	if err != nil {
		return nil, err
	}
	commit()
	return h, nil
}

// Prepare builds the route table of cfg and the endpoints eps without
// putting them in force, so that a reload can build every component's
// state before it swaps any. commit swaps routes and endpoints in
// together, atomically: requests already running finish on the old table.
// Transports are kept for upstreams whose settings did not change; at
// commit the idle connections of the others are closed. A prepared table
// that is never committed holds nothing to release.
func (h *Handler) Prepare(cfg *config.Config, eps []Endpoint) (commit func(), err error) {
	if cfg == nil {
		return nil, errors.New("proxy: nil config")
	}
	endpoints, err := h.buildEndpoints(eps)
	if err != nil {
		return nil, err
	}
	t, err := h.buildTable(cfg)
	if err != nil {
		return nil, err
	}
	t.endpoints = endpoints
	return func() { h.swap(t) }, nil
}

// SetEndpoints replaces the gateway's own handlers; the routes stay.
func (h *Handler) SetEndpoints(eps []Endpoint) error {
	endpoints, err := h.buildEndpoints(eps)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t := *h.table.Load()
	t.endpoints = endpoints
	h.table.Store(&t)
	return nil
}

// Update builds a route table from cfg and swaps it in atomically; the
// endpoints stay. On error the running table stays.
func (h *Handler) Update(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("proxy: nil config")
	}
	t, err := h.buildTable(cfg)
	if err != nil {
		return err
	}
	h.mu.Lock()
	t.endpoints = h.table.Load().endpoints
	h.mu.Unlock()
	h.swap(t)
	return nil
}

func (h *Handler) buildEndpoints(eps []Endpoint) ([]endpoint, error) {
	out := make([]endpoint, 0, len(eps))
	seen := map[string]bool{}
	for _, e := range eps {
		if e.Name == "" || e.Handler == nil {
			return nil, fmt.Errorf("endpoint %q: name and handler are required", e.Pattern)
		}
		if e.Pattern == "" || e.Pattern[0] != '/' || path.Clean(e.Pattern) != strings.TrimSuffix(e.Pattern, "/") && e.Pattern != "/" {
			return nil, fmt.Errorf("endpoint %s: pattern %q must be a clean absolute path", e.Name, e.Pattern)
		}
		if seen[e.Pattern] {
			return nil, fmt.Errorf("endpoint %s: pattern %q is already used", e.Name, e.Pattern)
		}
		seen[e.Pattern] = true
		ep := endpoint{name: e.Name, pattern: e.Pattern, handler: e.Handler, m: h.metrics.forRoute(e.Name, false)}
		if strings.HasSuffix(e.Pattern, "/") {
			ep.prefix = true
			ep.pattern = strings.TrimSuffix(e.Pattern, "/")
		}
		out = append(out, ep)
	}
	// Longest pattern first, so the most specific endpoint wins.
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].pattern) > len(out[j].pattern) })
	return out, nil
}

// buildTable builds the routes of cfg, reusing the transports in force for
// upstreams whose settings did not change.
func (h *Handler) buildTable(cfg *config.Config) (*table, error) {
	t := &table{routes: make(map[string]*route, len(cfg.Routes)), realm: cfg.Realm, maxHeader: cfg.Server.MaxHeaderBytes,
		used: map[transportKey]*http.Transport{}}
	if t.realm == "" {
		t.realm = defaultRealm
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for i := range cfg.Routes {
		rt, key, err := h.buildRoute(cfg.Routes[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := t.routes[rt.prefix]; dup {
			errs = append(errs, fmt.Errorf("route %s: path %q is already used by route %s", rt.cfg.Name, rt.cfg.Path, prev.cfg.Name))
			continue
		}
		tr := t.used[key]
		if tr == nil {
			tr = h.transports[key]
		}
		if tr == nil {
			// Unused until the table is committed: nothing to close if
			// it never is.
			tr = newTransport(key)
		}
		t.used[key] = tr
		rt.proxy.Transport = &timedTransport{rt: tr, now: h.now}
		t.routes[rt.prefix] = rt
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// swap puts t in force and closes the idle connections of the transports
// no route uses any more.
func (h *Handler) swap(t *table) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.transports
	h.transports = t.used
	h.table.Store(t)
	for k, tr := range old {
		if t.used[k] != tr {
			tr.CloseIdleConnections()
		}
	}
}

// CloseIdleConnections closes the idle upstream connections of every
// transport (for shutdown).
func (h *Handler) CloseIdleConnections() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, tr := range h.transports {
		tr.CloseIdleConnections()
	}
}

func (h *Handler) buildRoute(c config.Route) (*route, transportKey, error) {
	var key transportKey
	if c.Name == "" {
		return nil, key, fmt.Errorf("route with path %q: name is required", c.Path)
	}
	if c.Path == "" || c.Path[0] != '/' {
		return nil, key, fmt.Errorf("route %s: path %q must start with /", c.Name, c.Path)
	}
	if !c.Public && h.guard == nil {
		return nil, key, fmt.Errorf("route %s: a protected route needs a guard", c.Name)
	}
	u, err := url.Parse(c.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, key, fmt.Errorf("route %s: upstream %q must be an absolute http(s) URL without credentials", c.Name, c.Upstream)
	}
	prefix, err := routepath.Canonical(c.Path)
	if err != nil {
		return nil, key, fmt.Errorf("route %s: path %q: %w", c.Name, c.Path, err)
	}
	rt := &route{cfg: c, prefix: prefix, depth: routepath.SegmentCount(prefix), target: u, timeout: c.Timeout.D()}
	rt.cfg.Scopes = append([]string(nil), c.Scopes...)
	rt.cfg.AnyScopes = append([]string(nil), c.AnyScopes...)
	rt.cfg.AllowedOrigins = append([]string(nil), c.AllowedOrigins...)
	if rt.timeout <= 0 {
		rt.timeout = defaultTimeout
	}
	key = transportKey{scheme: u.Scheme, host: u.Host, dial: c.DialTimeout.D(), header: rt.timeout, maxIdle: c.MaxIdleConns, insecure: c.TLSInsecureSkip}
	if key.dial <= 0 {
		key.dial = defaultDialTimeout
	}
	if key.maxIdle <= 0 {
		key.maxIdle = defaultMaxIdleConns
	}
	rt.m = h.metrics.forRoute(c.Name, true)
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { h.rewrite(rt, pr) },
		FlushInterval: c.FlushInterval.D(),
		ErrorHandler:  h.upstreamError,
		BufferPool:    h.buffers,
		ErrorLog:      h.errLog,
	}
	return rt, key, nil
}

// match finds the route with the longest prefix of canonical, a path from
// routepath.Canonical.
func (t *table) match(canonical string) *route {
	rt, _ := routepath.Match(t.routes, canonical)
	return rt
}

func (t *table) endpoint(clean string) *endpoint {
	if clean == "" {
		return nil
	}
	eps := t.endpoints
	for i := range eps {
		ep := &eps[i]
		if clean == ep.pattern {
			return ep
		}
		if ep.prefix && strings.HasPrefix(clean, ep.pattern) && (ep.pattern == "" || clean[len(ep.pattern)] == '/') {
			return ep
		}
	}
	return nil
}

// ServeHTTP serves one request: endpoint, route or 404, with request id,
// access log and metrics.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	t := h.table.Load()
	ex := &exchange{w: w, id: requestID(r.Header)}
	label, rm := "none", h.none
	defer func() {
		if v := recover(); v != nil {
			// ReverseProxy aborts a response it cannot finish with
			// http.ErrAbortHandler: log it, then let net/http handle it.
			h.finish(r, ex, label, rm, start, true)
			panic(v)
		}
		h.finish(r, ex, label, rm, start, false)
	}()

	if t.maxHeader > 0 && headerSize(r) > t.maxHeader {
		writeJSON(ex, http.StatusRequestHeaderFieldsTooLarge, headersTooLargeBody)
		return
	}
	// Routing is decided on the canonical path, so that no spelling of a
	// protected path (case, ";x", "\\") reaches an upstream under a
	// weaker route.
	canonical, err := routepath.Canonical(r.URL.Path)
	if err != nil {
		writeJSON(ex, http.StatusBadRequest, badPathBody(err))
		return
	}
	ctx := context.WithValue(r.Context(), exchangeKey{}, ex)
	clean := cleanPath(r.URL.Path)
	if ep := t.endpoint(clean); ep != nil {
		label, rm = ep.name, ep.m
		ep.handler.ServeHTTP(ex, r.WithContext(ctx))
		return
	}
	rt := t.match(canonical)
	if rt == nil {
		writeJSON(ex, http.StatusNotFound, notFoundBody)
		return
	}
	label, rm = rt.cfg.Name, rt.m
	origin := r.Header.Get("Origin")
	if origin != "" && r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" &&
		h.originAllowed(rt, origin) {
		preflight(ex, r, origin)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, rt.timeout)
	defer cancel()
	r = r.WithContext(ctx)
	if !rt.cfg.Public {
		// The guard refuses claims that cannot be forwarded as headers.
		p, err := h.guard.Check(r, &rt.cfg)
		if err != nil {
			ex.authErr = authReason(err)
			guard.WriteError(ex, err, t.realm)
			return
		}
		ex.principal, ex.authed = p, true
		// The guard checked the origin against the token's client.
		ex.allowOrigin = origin
	} else if origin != "" && slices.Contains(rt.cfg.AllowedOrigins, origin) {
		ex.allowOrigin = origin
	}
	rt.proxy.ServeHTTP(ex, r)
}

func (h *Handler) originAllowed(rt *route, origin string) bool {
	return slices.Contains(rt.cfg.AllowedOrigins, origin) || (h.origins != nil && h.origins(&rt.cfg, origin))
}

// preflight answers a CORS preflight for an allowed origin; it is never
// forwarded.
func preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
	allow := "Authorization, Content-Type, X-Request-Id"
	if req := r.Header.Values("Access-Control-Request-Headers"); len(req) > 0 {
		if v := strings.Join(req, ", "); validHeaderValue(v) && len(v) <= 1024 {
			allow = v
		}
	}
	h.Set("Access-Control-Allow-Headers", allow)
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Origin")
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
}

func authReason(err error) string {
	var e *guard.Error
	if errors.As(err, &e) {
		if e.Reason != "" {
			return e.Reason
		}
		return e.Code
	}
	return "internal: " + err.Error()
}

// rewrite builds the outbound request from the inbound one.
func (h *Handler) rewrite(rt *route, pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	ex := exchangeFrom(in.Context())

	p, raw := forwardPath(in.URL, cleanPath(in.URL.Path))
	if rt.cfg.StripPrefix && rt.depth > 0 {
		p, raw = stripRoutePrefix(p, raw, rt.depth)
	}
	out.URL.Path, out.URL.RawPath = p, raw
	out.URL.RawQuery = stripQueryParam(out.URL.RawQuery, tokenParam)
	pr.SetURL(rt.target)
	pr.SetXForwarded()

	hd := out.Header
	for k := range hd {
		if spoofable(k) || (!rt.cfg.ForwardAuthorization && strings.EqualFold(k, "Authorization")) {
			delete(hd, k)
		}
	}
	// The gateway's own cookies (the portal session, a 12-hour
	// credential) are not the upstream's business.
	if cs, ok := hd["Cookie"]; ok {
		if cs = withoutOwnCookies(cs); len(cs) == 0 {
			delete(hd, "Cookie")
		} else {
			hd["Cookie"] = cs
		}
	}
	if ex == nil {
		return
	}
	// One backing array for every value set here; each header gets a
	// full slice expression so an append cannot spill into its neighbour.
	vals := make([]string, 0, 6)
	set := func(k, v string) {
		vals = append(vals, v)
		n := len(vals)
		hd[k] = vals[n-1 : n : n]
	}
	if ex.authed {
		if v := ex.principal.Subject; v != "" {
			set("X-Auth-Subject", v)
		}
		if v := ex.principal.ClientID; v != "" {
			set("X-Auth-Client-Id", v)
		}
		if len(ex.principal.Scopes) > 0 {
			set("X-Auth-Scope", ex.principal.Scopes.String())
		}
		// The issuer tells tenants apart: "alice" of a trusted issuer
		// is not the gateway's own alice.
		if v := ex.principal.Issuer; v != "" {
			set("X-Auth-Issuer", v)
		}
		if v := ex.principal.Actor; v != "" {
			set("X-Auth-Actor", v)
		}
	}
	set("X-Request-Id", ex.id)
}

// headerSize is the size of the request line and headers as net/http
// counts it for MaxHeaderBytes. The listener's own limit is set higher
// (see HardHeaderLimit), so that up to it the client gets a JSON 431 here
// rather than net/http's plain-text one.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// HardHeaderLimit is the http.Server MaxHeaderBytes to pair with a
// configured limit: larger, so the JSON 431 above answers first.
func HardHeaderLimit(configured int) int { return max(4*configured, 1<<20) }

const (
	headersTooLargeBody = `{"error":"invalid_request","error_description":"request headers too large"}` + "\n"
	notFoundBody        = `{"error":"not_found","error_description":"no route matches this path"}` + "\n"
	badGatewayBody      = `{"error":"bad_gateway","error_description":"the upstream service is unavailable"}` + "\n"
	timeoutBody         = `{"error":"upstream_timeout","error_description":"the upstream service did not answer in time"}` + "\n"
	// statusClientClosed is logged (nginx's 499) when the client left
	// before the upstream answered; nobody receives it.
	statusClientClosed = 499
)

// badPathBody is the 400 body for a path routepath.Canonical refuses.
func badPathBody(err error) string {
	b, _ := json.Marshal(map[string]string{"error": "invalid_request", "error_description": err.Error()})
	return string(b) + "\n"
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// upstreamError is the ReverseProxy ErrorHandler: it classifies the
// failure; the details go to the access log only.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	ctxErr := r.Context().Err()
	var ne net.Error
	switch {
	case errors.Is(ctxErr, context.Canceled) || (ctxErr == nil && errors.Is(err, context.Canceled)):
		if ex := exchangeFrom(r.Context()); ex != nil {
			ex.gone = true
		}
		w.WriteHeader(statusClientClosed)
	case errors.Is(ctxErr, context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()):
		writeJSON(w, http.StatusGatewayTimeout, timeoutBody)
	default:
		writeJSON(w, http.StatusBadGateway, badGatewayBody)
	}
	if ex := exchangeFrom(r.Context()); ex != nil {
		ex.upErr = err
	}
}

// finish records the metrics and writes the access log line.
func (h *Handler) finish(r *http.Request, ex *exchange, label string, rm *routeMetrics, start time.Time, aborted bool) {
	dur := h.now().Sub(start)
	status := ex.finalStatus()
	rm.observe(status, dur.Seconds())
	if ex.proxied {
		rm.observeUpstream(ex.upstream.Seconds())
	}

	level := slog.LevelInfo
	if status >= 500 || aborted {
		level = slog.LevelError
	}
	ctx := r.Context()
	if !h.log.Enabled(ctx, level) {
		return
	}
	var buf [16]slog.Attr
	a := append(buf[:0],
		slog.String("request_id", ex.id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", label),
		slog.Int("status", status),
		slog.Int64("bytes", ex.bytes),
		slog.Float64("duration_ms", float64(dur)/float64(time.Millisecond)),
	)
	if ex.proxied {
		a = append(a, slog.Float64("upstream_ms", float64(ex.upstream)/float64(time.Millisecond)))
	}
	if ex.authed {
		a = append(a, slog.String("client_id", ex.principal.ClientID), slog.String("subject", ex.principal.Subject))
	}
	a = append(a, slog.String("remote", r.RemoteAddr), slog.String("client", clientString(h.client(r))))
	switch {
	case ex.authErr != "":
		a = append(a, slog.String("auth_error", ex.authErr))
	case ex.gone:
		a = append(a, slog.String("error", "client closed request"))
	case ex.upErr != nil:
		a = append(a, slog.String("error", upstreamErrText(ex.upErr)))
	}
	if aborted {
		a = append(a, slog.Bool("aborted", true))
	}
	h.log.LogAttrs(ctx, level, "request", a...)
}

// clientString is the access log's client field: the address, or "" when
// none is known.
func clientString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// upstreamErrText is the loggable text of an upstream failure: a
// *url.Error is unwrapped, since its text holds the upstream URL and query.
func upstreamErrText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// timedTransport measures the upstream exchange (until response headers)
// into the request's exchange.
type timedTransport struct {
	rt  http.RoundTripper
	now func() time.Time
}

func (t *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := t.now()
	resp, err := t.rt.RoundTrip(r)
	if ex := exchangeFrom(r.Context()); ex != nil {
		ex.proxied = true
		ex.upstream = t.now().Sub(start)
	}
	return resp, err
}

// bufferPool recycles ReverseProxy's copy buffers.
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, copyBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != copyBufferSize {
		return
	}
	buf = buf[:copyBufferSize]
	b.p.Put(&buf)
}

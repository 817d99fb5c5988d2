// Package proxy is the gateway's HTTP front: the route table, the request
// id, access log and metrics around every request, the call to the token
// guard, and the httputil.ReverseProxy that forwards to the upstreams.
package proxy

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
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
	// JSONAccessLog, when set, is where the access log goes instead of
	// through Logger: the lines Logger's slog.JSONHandler would write,
	// byte for byte, at a fraction of the cost. Set it only when Logger
	// writes JSON to this same writer; Logger still decides the level.
	// It must be safe for concurrent use; each line is one Write.
	JSONAccessLog io.Writer
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
	access  *jsonAccessLog // nil: the access log goes through log
	ids     *requestIDs

	// table is the routes and endpoints in force, swapped whole.
	table atomic.Pointer[table]

	mu         sync.Mutex // serialises the swaps of table; guards transports
	transports map[transportKey]*http.Transport
}

// New builds the handler for cfg.
func New(cfg *config.Config, guard Guard, opts Options) (*Handler, error) {
	h := &Handler{
		guard:      guard,
		log:        opts.Logger,
		metrics:    opts.Metrics,
		now:        opts.Now,
		buffers:    &bufferPool{},
		ids:        newRequestIDs(),
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
	if opts.JSONAccessLog != nil {
		h.access = &jsonAccessLog{w: opts.JSONAccessLog}
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

// ServeHTTP serves one request: endpoint, route or 404, with request id,
// access log and metrics.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	t := h.table.Load()
	ex := &exchange{w: w}
	ex.id = h.ids.requestID(r.Header, &ex.idBuf)
	ex.ctx.ex = ex
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
	clean := cleanPath(r.URL.Path)
	if ep := t.endpoint(clean); ep != nil {
		label, rm = ep.name, ep.m
		ex.ctx.Context = r.Context()
		ep.handler.ServeHTTP(ex, r.WithContext(&ex.ctx))
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
	if !rt.cfg.Public {
		// The guard refuses claims that cannot be forwarded as headers.
		p, err := h.guard.Check(r, &rt.cfg)
		if err != nil {
			ex.authErr = authReason(err)
			t.refusals.Write(ex, err)
			return
		}
		ex.principal, ex.authed = p, true
		// The guard checked the origin against the token's client.
		ex.allowOrigin = origin
	} else if origin != "" && slices.Contains(rt.cfg.AllowedOrigins, origin) {
		ex.allowOrigin = origin
	}
	// The route's timeout bounds the upstream exchange (a refusal never
	// starts its timer).
	ctx, cancel := context.WithTimeout(r.Context(), rt.timeout)
	defer cancel()
	ex.ctx.Context = ctx
	rt.proxy.ServeHTTP(ex, r.WithContext(&ex.ctx))
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

package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/routepath"
)

type table struct {
	routes    map[string]*route // by canonical prefix (routepath.Canonical; "/" for the root)
	endpoints []endpoint        // longest pattern first
	refusals  *guard.Refusals   // RFC 6750 refusals in the config's realm
	maxHeader int               // server.max_header_bytes; 0: no limit here
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

// The config is trusted to be validated (config.Load and Revalidate): the
// realm and the route timeouts are set there. max_idle_conns may be 0,
// which means the default.
const (
	defaultMaxIdleConns = 256
	tlsHandshakeTimeout = 10 * time.Second
)

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
	t := &table{routes: make(map[string]*route, len(cfg.Routes)), refusals: guard.NewRefusals(cfg.Realm),
		maxHeader: cfg.Server.MaxHeaderBytes, used: map[transportKey]*http.Transport{}}
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
	key = transportKey{scheme: u.Scheme, host: u.Host, dial: c.DialTimeout.D(), header: rt.timeout, maxIdle: c.MaxIdleConns, insecure: c.TLSInsecureSkip}
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

package proxy

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/testlog"
	"github.com/prometheus/client_golang/prometheus"
)

// fakeGuard accepts the tokens in its map, from the Authorization header or
// the access_token query parameter, and checks the route's scopes.
type fakeGuard map[string]guard.Principal

func (g fakeGuard) Check(r *http.Request, route *config.Route) (guard.Principal, error) {
	hdr := r.Header.Get("Authorization")
	q := r.URL.Query()
	_, inQuery := q["access_token"]
	var tok string
	switch {
	case hdr != "" && inQuery:
		return guard.Principal{}, guard.ErrInvalidRequest.WithDescription("malformed", "token in header and query")
	case hdr != "":
		scheme, t, ok := strings.Cut(hdr, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || t == "" {
			return guard.Principal{}, guard.ErrInvalidRequest.WithDescription("malformed", "malformed Authorization header")
		}
		tok = t
	case inQuery:
		tok = q.Get("access_token")
	default:
		return guard.Principal{}, guard.ErrMissingToken
	}
	p, ok := g[tok]
	if !ok {
		return guard.Principal{}, guard.ErrInvalidToken.WithDescription("signature", "the token is not valid")
	}
	if !p.Scopes.HasAll(route.Scopes) {
		return guard.Principal{}, guard.ErrInsufficientScope.WithStatus(route.InsufficientScopeStatus).WithScope(strings.Join(route.Scopes, " "))
	}
	return p, nil
}

// Tokens of the fake guard.
const (
	tokAlice = "alice-token-SECRET1"
	tokRobot = "robot-token-SECRET2"
	tokAdmin = "admin-token-SECRET4" // an admin-grant token: bob, obtained by root
)

func testGuard() fakeGuard {
	return fakeGuard{
		tokAlice: {Subject: "alice", ClientID: "demo-app", Scopes: guard.ScopeSet{"query_mapdata", "user"}},
		tokRobot: {Subject: "robot", ClientID: "robot-app", Scopes: guard.ScopeSet{"fmsdata"}},
		tokAdmin: {Issuer: "https://gw.example", Subject: "bob", ClientID: "support-tool", Scopes: guard.ScopeSet{"query_mapdata"},
			Actor: "root", Local: true},
	}
}

// testRoute returns a route with the defaults config.Load fills.
func testRoute(name, path, upstream string) config.Route {
	return config.Route{
		Name:                    name,
		Path:                    path,
		Upstream:                upstream,
		InsufficientScopeStatus: 401,
		Timeout:                 config.Duration(30 * time.Second),
		DialTimeout:             config.Duration(5 * time.Second),
		MaxIdleConns:            256,
	}
}

func testConfig(routes ...config.Route) *config.Config {
	return &config.Config{
		Realm:                   "clearance",
		InsufficientScopeStatus: 401,
		Routes:                  routes,
	}
}

// seen is what an upstream received.
type seen struct {
	Method     string
	RequestURI string
	Host       string
	Header     http.Header
	Body       string
}

// upstream is a real HTTP upstream recording every request.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newUpstream(t testing.TB, respond http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.RequestURI, r.Host, r.Header.Clone(), string(b)})
		u.mu.Unlock()
		if respond != nil {
			respond(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from "+r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t testing.TB) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct{ testlog.Buffer }

// lines decodes the JSON access log lines (msg "request"); other lines,
// such as ReverseProxy's own error log, are skipped.
func (l *lockedBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ln := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if ln == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", ln, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// gateway is a Handler behind a real listener, with its log and registry.
type gateway struct {
	*httptest.Server
	h      *Handler
	log    *lockedBuffer
	reg    *prometheus.Registry
	served chan struct{} // one value after each ServeHTTP returns
}

type gwOption func(*Options)

func newGateway(t testing.TB, cfg *config.Config, guard Guard, opts ...gwOption) *gateway {
	t.Helper()
	g := &gateway{log: &lockedBuffer{}, reg: prometheus.NewPedanticRegistry(), served: make(chan struct{}, 4096)}
	// As the gateway runs with log.format json: the access log through
	// JSONAccessLog, the rest through the logger, into one writer.
	o := Options{
		Logger:        slog.New(slog.NewJSONHandler(g.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:       NewMetrics(g.reg),
		JSONAccessLog: g.log,
	}
	for _, f := range opts {
		f(&o)
	}
	h, err := New(cfg, guard, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.h = h
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { g.served <- struct{}{} }()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	t.Cleanup(h.CloseIdleConnections)
	return g
}

// waitServed waits until n more requests have finished in the handler (so
// their log lines and metrics are recorded).
func (g *gateway) waitServed(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.served:
		case <-time.After(10 * time.Second):
			t.Fatal("request did not finish")
		}
	}
}

// do sends one request through the gateway and waits for the handler to
// finish; it returns the response with its body read.
func (g *gateway) do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := g.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	g.waitServed(t, 1)
	return resp, string(b)
}

func (g *gateway) get(t testing.TB, target string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return g.do(t, req)
}

// jsonError decodes an error body.
func jsonError(t testing.TB, body string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %q: %v", body, err)
	}
	return m
}

// stepClock is a fake clock advancing by step on every reading.
type stepClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

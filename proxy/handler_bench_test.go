package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/config"
	"github.com/prometheus/client_golang/prometheus"
)

// staticGuard accepts the one token it knows and refuses every other with
// one error, allocating nothing: what the real guard does with a cached
// token and a remembered refusal.
type staticGuard struct {
	token  string
	p      guard.Principal
	refuse *guard.Error
}

func (g *staticGuard) Check(r *http.Request, _ *config.Route) (guard.Principal, error) {
	if r.Header.Get("Authorization") == "Bearer "+g.token {
		return g.p, nil
	}
	return guard.Principal{}, g.refuse
}

// fixedTransport answers every request with a small JSON document, so the
// handler is measured without a network.
type fixedTransport struct{}

func (fixedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"icao":"EDDF"}`)), ContentLength: 15, Request: r,
		ProtoMajor: 1, ProtoMinor: 1}, nil
}

// discardResponse is a ResponseWriter that keeps only the headers.
type discardResponse struct{ h http.Header }

func (w *discardResponse) Header() http.Header         { return w.h }
func (w *discardResponse) WriteHeader(int)             {}
func (w *discardResponse) Write(b []byte) (int, error) { return len(b), nil }

// handlerFixture is a Handler in front of fixedTransport, with its
// metrics, and its access log written as JSON and discarded.
func handlerFixture(tb testing.TB, access bool) *Handler {
	r := testRoute("charts", "/v1/charts/", "http://upstream.example")
	r.Scopes = []string{"charts"}
	g := &staticGuard{token: "good", p: guard.Principal{Subject: "alice", ClientID: "bench", Scopes: guard.ScopeSet{"charts"}},
		refuse: guard.ErrInvalidToken.WithDescription("signature", "invalid signature")}
	opts := Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}
	if access {
		opts.JSONAccessLog = io.Discard
	}
	h, err := New(testConfig(r), g, opts)
	if err != nil {
		tb.Fatal(err)
	}
	for _, rt := range h.table.Load().routes {
		rt.proxy.Transport = &timedTransport{rt: fixedTransport{}, now: h.now}
	}
	return h
}

func chartsRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://gateway.example/v1/charts/EDDF", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// BenchmarkHandler is the gateway's own work per request, without the
// network: accepted and forwarded (to fixedTransport), and refused by the
// guard or for lack of a token, with the access log written through
// JSONAccessLog and through slog. "bare" is httputil.ReverseProxy alone in
// front of the same transport: forwarded minus bare is what the gateway
// adds to forwarding (a static guard's check aside).
func BenchmarkHandler(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		target, _ := url.Parse("http://upstream.example")
		bare := &httputil.ReverseProxy{
			Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
			Transport:  fixedTransport{},
			BufferPool: &bufferPool{},
		}
		r := chartsRequest("good")
		w := &discardResponse{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			bare.ServeHTTP(w, r)
		}
	})
	for _, log := range []struct {
		name   string
		access bool
	}{{"JSONAccessLog", true}, {"slog", false}} {
		h := handlerFixture(b, log.access)
		for _, c := range []struct{ name, token string }{{"forwarded", "good"}, {"refused", "bad"}, {"no-token", ""}} {
			b.Run(log.name+"/"+c.name, func(b *testing.B) {
				r := chartsRequest(c.token)
				w := &discardResponse{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					h.ServeHTTP(w, r)
				}
			})
		}
	}
}

// Refusing a request must cost far less than forwarding one: it
// allocates less than a quarter of what the gateway allocates to forward
// one (fixedTransport's allocations aside). The response is rendered
// once, the route's timeout never starts, the log line is the only work.
func TestRefusalAllocatesLessThanForwarding(t *testing.T) {
	h := handlerFixture(t, true)
	w := &discardResponse{h: http.Header{}}
	run := func(r *http.Request) float64 {
		return testing.AllocsPerRun(200, func() {
			clear(w.h)
			h.ServeHTTP(w, r)
		})
	}
	out := chartsRequest("")
	transport := testing.AllocsPerRun(200, func() { fixedTransport{}.RoundTrip(out) })
	forwarded := run(chartsRequest("good"))
	for _, token := range []string{"bad", ""} {
		if refused := run(chartsRequest(token)); refused > (forwarded-transport)/4 {
			t.Errorf("token %q: %v allocations per refusal, %v per forwarded request (%v of them the fake transport's)",
				token, refused, forwarded, transport)
		}
	}
}

package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkProxyServeHTTP compares the gateway Handler (fake guard, JSON
// access log to io.Discard, metrics on a private registry) with a bare
// httputil.ReverseProxy using an equally tuned transport. Both call
// ServeHTTP with an httptest.ResponseRecorder and do a real HTTP round trip
// to the same httptest upstream over loopback.
func BenchmarkProxyServeHTTP(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"airport":"EDDF","runways":["07C","25C","07L","25R","07R","25L","18"]}`)
	}))
	b.Cleanup(up.Close)

	r := testRoute("mapdata", "/mapdata/", up.URL)
	r.Scopes = []string{"query_mapdata"}
	h, err := New(testConfig(r), testGuard(), Options{
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics: NewMetrics(prometheus.NewRegistry()),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.CloseIdleConnections)

	target, _ := url.Parse(up.URL)
	tr := newTransport(transportKey{dial: defaultDialTimeout, header: defaultTimeout, maxIdle: defaultMaxIdleConns})
	b.Cleanup(tr.CloseIdleConnections)
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: tr,
	}

	run := func(b *testing.B, handler http.Handler, auth bool) {
		req := httptest.NewRequest(http.MethodGet, "http://gateway.example/mapdata/eddf?format=json", nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+tokAlice)
		}
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, bare, false) })
	b.Run("gateway", func(b *testing.B) { run(b, h, true) })
}

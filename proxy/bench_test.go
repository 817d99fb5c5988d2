package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkProxyServeHTTP compares the gateway Handler (fake guard, JSON
// access log to io.Discard, metrics on a private registry) with a bare
// httputil.ReverseProxy using an equally tuned transport. Both call
// ServeHTTP with an httptest.ResponseRecorder and do a real HTTP round trip
// to the same httptest upstream over loopback. The concurrent pair sends
// 32 requests at once per iteration and reports req/s.
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
	tr := newTransport(transportKey{dial: 5 * time.Second, header: 30 * time.Second, maxIdle: defaultMaxIdleConns})
	b.Cleanup(tr.CloseIdleConnections)
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: tr,
	}

	// barePooled is bare plus the gateway's copy-buffer pool, to separate
	// the pool's gain from the gateway's own cost.
	barePooled := &httputil.ReverseProxy{Rewrite: bare.Rewrite, Transport: tr, BufferPool: &bufferPool{}}

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
	// concurrent sends 32 requests at once per iteration, so the machine's
	// cores, not loopback latency, bound the throughput.
	concurrent := func(b *testing.B, handler http.Handler, auth bool) {
		const fanout = 32
		reqs := make([]*http.Request, fanout)
		for i := range reqs {
			reqs[i] = httptest.NewRequest(http.MethodGet, "http://gateway.example/mapdata/eddf?format=json", nil)
			if auth {
				reqs[i].Header.Set("Authorization", "Bearer "+tokAlice)
			}
		}
		var failed atomic.Int64
		b.ReportAllocs()
		for b.Loop() {
			var wg sync.WaitGroup
			for _, req := range reqs {
				wg.Go(func() {
					rec := httptest.NewRecorder()
					handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						failed.Add(1)
					}
				})
			}
			wg.Wait()
		}
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d requests failed", n)
		}
		b.ReportMetric(float64(b.N*fanout)/b.Elapsed().Seconds(), "req/s")
	}
	b.Run("bare", func(b *testing.B) { run(b, bare, false) })
	b.Run("gateway", func(b *testing.B) { run(b, h, true) })
	b.Run("bare-concurrent32", func(b *testing.B) { concurrent(b, bare, false) })
	b.Run("bare-pooled-concurrent32", func(b *testing.B) { concurrent(b, barePooled, false) })
	b.Run("gateway-concurrent32", func(b *testing.B) { concurrent(b, h, true) })
}

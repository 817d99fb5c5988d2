package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/clearance-gw/clearance/internal/testlog"
)

// BenchmarkProxy compares the whole gateway path (listener, request id,
// access log, metrics, route match, guard with a cached token, rewrite,
// upstream) with a bare httputil.ReverseProxy in front of the same upstream,
// both over real loopback connections with 32 concurrent clients. The
// figure to watch is the ratio of the two ns/op values of one run.
func BenchmarkProxy(b *testing.B) {
	body := []byte(`{"icao":"EDDF","name":"Frankfurt am Main"}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer up.Close()

	ti := newTestIssuer(b)
	path := filepath.Join(b.TempDir(), "gateway.yaml")
	writeConfig(b, path, up.URL, ti, "")
	// The access log is written and encoded as in production, then dropped.
	g := startGatewayLogging(b, path, &testlog.Buffer{}, io.Discard)
	tok := ti.token(b, "charts")

	target, _ := url.Parse(up.URL)
	bareTransport := http.DefaultTransport.(*http.Transport).Clone()
	bareTransport.MaxIdleConnsPerHost = 256
	bare := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: bareTransport,
	})
	defer bare.Close()

	run := func(b *testing.B, url, token string) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		client := &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
		b.ReportAllocs()
		b.SetParallelism(16) // 32 concurrent clients on 2 cores
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			for pb.Next() {
				res, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("status %d", res.StatusCode)
					return
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) { run(b, bare.URL+"/v1/charts/EDDF", "") })
	b.Run("gateway", func(b *testing.B) { run(b, "http://"+g.addrs.Public+"/v1/charts/EDDF", tok) })

	// The same token metered under a plan (SPEC §11): the count, the
	// RateLimit fields, and the background writes to SQLite.
	meteredPath := filepath.Join(b.TempDir(), "gateway.yaml")
	writeConfig(b, meteredPath, up.URL, ti, "")
	appendFile(b, meteredPath, "plans: [{name: bench, rate: 1000000000/s, quota: 1000000000000/month}]\ndefault_plan: bench\n")
	mg := startGatewayLogging(b, meteredPath, &testlog.Buffer{}, io.Discard)
	b.Run("gateway metered", func(b *testing.B) { run(b, "http://"+mg.addrs.Public+"/v1/charts/EDDF", tok) })
}

func appendFile(t testing.TB, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

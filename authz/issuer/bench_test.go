package issuer_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/config"
)

// BenchmarkTokenEndpoint measures client_credentials issuance end to end
// over a real listener (keep-alive connections, concurrent clients), per
// signing algorithm. req/s is the throughput of the whole machine.
func BenchmarkTokenEndpoint(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			fx := newFixture(b, withConfig(func(c *config.Config) { c.Tokens.Alg = alg }))
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 64
			client := &http.Client{Transport: tr}
			defer tr.CloseIdleConnections()
			body := url.Values{"grant_type": {"client_credentials"}}.Encode()
			auth := basic("backend", backendSecret)
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, fx.tokenURL(), strings.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Authorization", auth)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkGrant measures each grant through the handler (no network),
// with the real SQLite store and ES256. The password, a2a and admin grants
// use test password hashes with small argon2 parameters: with the default
// parameters a password check alone costs tens of milliseconds.
func BenchmarkGrant(b *testing.B) {
	fx := newFixture(b)
	h := fx.srv.Handler()
	issue := func(b *testing.B, v url.Values, client, secret string) map[string]string {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic(client, secret))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		rt, _ := out["refresh_token"].(string)
		return map[string]string{"refresh_token": rt}
	}
	user := url.Values{"username": {"alice"}, "password": {alicePassword}}
	grants := []struct {
		name   string
		v      url.Values
		client string
		secret string
	}{
		{"client_credentials", url.Values{}, "backend", backendSecret},
		{"password", user, "app", appSecret},
		{"a2a", user, "app", appSecret},
		{"admin", url.Values{"username": {"root"}, "password": {rootPassword}, "subject": {"alice"}}, "app", appSecret},
	}
	for _, g := range grants {
		b.Run(g.name, func(b *testing.B) {
			v := url.Values{"grant_type": {g.name}}
			for k, x := range g.v {
				v[k] = x
			}
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				issue(b, v, g.client, g.secret)
			}
			reportCPU(b, cpu)
		})
	}
	b.Run("refresh_token", func(b *testing.B) {
		rt := issue(b, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, "app", appSecret)["refresh_token"]
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			rt = issue(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", appSecret)["refresh_token"]
		}
		reportCPU(b, cpu)
	})
}

// processCPU is the CPU time (user and system) the process has used: on
// a machine shared with other work it moves much less than ns/op.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start (processCPU),
// as cpu-µs/op. It includes the benchmark's own work (the request, the
// recorder) and the runtime's (GC).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

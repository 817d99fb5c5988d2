package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/testpg"
)

// BenchmarkTokenStores measures the token endpoint of "clearance serve"
// over real loopback connections (keep-alive, 8 concurrent clients on
// 2 cores, as BenchmarkTokenEndpoint) on each store: SQLite, PostgreSQL
// with one instance, and PostgreSQL with two instances sharing one
// database, the clients' requests alternating between them.
// client_credentials is one issuance per request; refresh_token is one
// rotation per request, each client following its own chain of refresh
// tokens (with two instances, every rotation on the other instance than
// the one before). req/s is the throughput of the whole machine, whose
// figures are worth comparing within one run only. PostgreSQL is skipped
// when there is no server to be had (see internal/testpg).
func BenchmarkTokenStores(b *testing.B) {
	for _, s := range []struct {
		name      string
		postgres  bool
		instances int
	}{
		{"sqlite", false, 1},
		{"postgres-1", true, 1},
		{"postgres-2", true, 2},
	} {
		b.Run(s.name, func(b *testing.B) {
			env := benchEnv{vars: map[string]string{kekEnv: randomKEK()}}
			store := fmt.Sprintf("{driver: sqlite, dsn: %q}", filepath.Join(b.TempDir(), "clearance.db"))
			if s.postgres {
				env.vars["PG_DSN"] = testpg.DB(b)
				store = `{driver: postgres, dsn: "${PG_DSN}"}`
			}
			path := filepath.Join(b.TempDir(), "gateway.yaml")
			cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: "http://gateway.test"
store: %s
scopes: [charts]
routes: []
server: {shutdown_grace: 5s}
`, store)
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				b.Fatal(err)
			}
			var urls []string
			for range s.instances {
				urls = append(urls, "http://"+env.serve(b, path).Public+"/token")
			}
			svc := env.createClient(b, path, "svc", "--grant", "client_credentials", "--scope", "charts")
			app := env.createClient(b, path, "app", "--first-party", "--grant", "password", "--grant", "refresh_token", "--scope", "charts")
			env.run(b, "alice password 1\n", "user", "add", "alice", "--config", path)

			b.Run("client_credentials", func(b *testing.B) {
				form := url.Values{"grant_type": {"client_credentials"}}
				benchTokens(b, urls, func(*tokenClient) (string, url.Values) { return basicAuth("svc", svc), form })
			})
			b.Run("refresh_token", func(b *testing.B) {
				auth := basicAuth("app", app)
				pw := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice password 1"}}
				benchTokens(b, urls, func(c *tokenClient) (string, url.Values) {
					if c.refresh == "" { // the start of its chain, before the timer
						c.refresh, _ = c.post(b, urls[0], auth, pw)
					}
					return auth, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.refresh}}
				})
			})
		})
	}
}

// tokenClient is one concurrent client of a benchmark.
type tokenClient struct {
	http    *http.Client
	refresh string // its refresh token, for the next rotation
}

// post asks the token endpoint at u and returns the refresh token of the
// answer ("" if none), failing the benchmark on anything but 200.
func (c *tokenClient) post(b *testing.B, u, auth string, form url.Values) (string, bool) {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	res, err := c.http.Do(req)
	if err != nil {
		b.Error(err)
		return "", false
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		b.Errorf("%s: %d %s", form.Get("grant_type"), res.StatusCode, body)
		return "", false
	}
	var tr struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		b.Errorf("%s: %v", form.Get("grant_type"), err)
		return "", false
	}
	return tr.RefreshToken, true
}

// benchTokens runs 8 concurrent clients, each asking what next says of it
// in turn at each of urls.
func benchTokens(b *testing.B, urls []string, next func(*tokenClient) (auth string, form url.Values)) {
	const parallelism = 4
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	defer tr.CloseIdleConnections()
	clients := make(chan *tokenClient, parallelism*runtime.GOMAXPROCS(0))
	for range cap(clients) {
		c := &tokenClient{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
		next(c) // sets up what the client needs before the timer
		clients <- c
	}
	var failed atomic.Bool
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := <-clients
		for i := 0; pb.Next(); i++ {
			if failed.Load() {
				return
			}
			auth, form := next(c)
			rt, ok := c.post(b, urls[i%len(urls)], auth, form)
			if !ok {
				failed.Store(true)
				return
			}
			c.refresh = rt
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func basicAuth(id, secret string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

// benchEnv is the environment of the benchmark's gateways and commands.
type benchEnv struct{ vars map[string]string }

func (e benchEnv) lookup(k string) (string, bool) { v, ok := e.vars[k]; return v, ok }

// run runs one clearance command and returns its stdout.
func (e benchEnv) run(b *testing.B, stdin string, args ...string) string {
	b.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Now: time.Now, LookupEnv: e.lookup}
	if code := Run(b.Context(), args, env); code != 0 {
		b.Fatalf("clearance %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// createClient registers a confidential client and returns its secret.
func (e benchEnv) createClient(b *testing.B, path, id string, args ...string) string {
	b.Helper()
	out := e.run(b, "", append([]string{"client", "create", "--id", id, "--name", id, "--json", "--config", path}, args...)...)
	var res struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Secret == "" {
		b.Fatalf("client create --json: %v\n%s", err, out)
	}
	return res.Secret
}

// serve runs one more gateway on path, its log dropped, until the
// benchmark ends.
func (e benchEnv) serve(b *testing.B, path string) Addrs {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	started := make(chan Addrs, 1)
	errw := &headWriter{}
	env := Env{Stdout: io.Discard, Stderr: errw, Now: time.Now, LookupEnv: e.lookup,
		Started: func(a Addrs) { started <- a }}
	go func() { done <- Run(ctx, []string{"serve", "--config", path}, env) }()
	var addrs Addrs
	select {
	case addrs = <-started:
	case code := <-done:
		cancel()
		b.Fatalf("serve exited with %d:\n%s", code, errw)
	case <-time.After(30 * time.Second):
		cancel()
		b.Fatal("serve did not start")
	}
	b.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.Error("serve did not stop")
		}
	})
	return addrs
}

// headWriter keeps the first 64 KiB written to it (a gateway's start-up
// log), and drops the rest (the access log of the benchmark's requests).
type headWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *headWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := 64<<10 - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (w *headWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

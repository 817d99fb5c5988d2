package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/testissuer"
	"github.com/clearance-gw/clearance/internal/testlog"
)

// testIssuer is an external issuer: an Ed25519 key and its JWKS server.
type testIssuer struct{ *testissuer.Issuer }

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	return &testIssuer{testissuer.New(t, "test-1")}
}

// token mints an hour-long token of alice through test-client.
func (ti *testIssuer) token(t testing.TB, scope string) string {
	t.Helper()
	now := time.Now()
	return ti.Mint(t, map[string]any{
		"iss": ti.URL, "sub": "alice", "aud": []string{"http://gateway.test"},
		"iat": now, "exp": now.Add(time.Hour), "jti": fmt.Sprint(now.UnixNano()),
		"client_id": "test-client", "scope": scope,
	})
}

// configFixture is what most serve tests start from: an upstream serving
// h, a trusted test issuer, and a gateway.yaml in a temp dir routing to
// both (writeConfig with no extra route). The upstream closes when the
// test ends, after any gateway the test starts.
func configFixture(t testing.TB, h http.Handler) (up *httptest.Server, ti *testIssuer, path string) {
	t.Helper()
	up = httptest.NewServer(h)
	t.Cleanup(up.Close)
	ti = newTestIssuer(t)
	path = filepath.Join(t.TempDir(), "gateway.yaml")
	writeConfig(t, path, up.URL, ti, "")
	return up, ti, path
}

// writeConfig writes a gateway.yaml for the test gateway: a charts route
// to upstream, extraRoute appended, and ti as a trusted issuer unless nil.
func writeConfig(t testing.TB, path, upstream string, ti *testIssuer, extraRoute string) {
	t.Helper()
	trusted := "trusted_issuers: []\n"
	if ti != nil {
		trusted = fmt.Sprintf(`trusted_issuers:
  - issuer: %s
    jwks_url: %s/jwks.json
    audience: http://gateway.test
    algorithms: [EdDSA]
`, ti.URL, ti.JWKSURL)
	}
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: "http://gateway.test"
store: {driver: sqlite, dsn: %q}
scopes: [charts, airports]
routes:
  - name: charts
    path: /v1/charts/
    upstream: %s
    scopes: [charts]
%s
%sserver: {shutdown_grace: 5s}
`, filepath.Join(filepath.Dir(path), "clearance.db"), upstream, extraRoute, trusted)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runningGateway is "clearance serve" running in-process.
type runningGateway struct {
	addrs  Addrs
	reload chan struct{}
	cancel context.CancelFunc
	done   chan int
	logs   *testlog.Buffer
}

func startGateway(t testing.TB, configPath string) *runningGateway {
	t.Helper()
	logs := &testlog.Buffer{}
	return startGatewayLogging(t, configPath, logs, logs)
}

// startGatewayLogging runs serve with its log going to logw.
func startGatewayLogging(t testing.TB, configPath string, logs *testlog.Buffer, logw io.Writer) *runningGateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &runningGateway{reload: make(chan struct{}, 1), cancel: cancel, done: make(chan int, 1), logs: logs}
	started := make(chan Addrs, 1)
	env := Env{Stdout: io.Discard, Stderr: logw, Now: time.Now, Reload: g.reload,
		LookupEnv: func(string) (string, bool) { return "", false },
		Started:   func(a Addrs) { started <- a }}
	go func() { g.done <- Run(ctx, []string{"serve", "--config", configPath}, env) }()
	select {
	case g.addrs = <-started:
	case code := <-g.done:
		cancel()
		t.Fatalf("serve exited with %d:\n%s", code, g.logs.String())
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return g
}

func get(url, token string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestServeReloadWithoutFailures runs requests continuously while the config
// is reloaded many times (good files and a bad one), and counts failures.
func TestServeReloadWithoutFailures(t *testing.T) {
	up, ti, path := configFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok":true}`)
	}))
	g := startGateway(t, path)
	tok := ti.token(t, "charts airports")
	base := "http://" + g.addrs.Public

	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := get(base+"/v1/charts/EDDF", tok)
				if err != nil || res.StatusCode != http.StatusOK {
					failed.Add(1)
					if err == nil {
						res.Body.Close()
					}
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				ok.Add(1)
			}
		})
	}
	airports := fmt.Sprintf("  - name: airports\n    path: /v1/airports/\n    upstream: %s\n    scopes: [airports]\n", up.URL)
	for i := range 20 {
		switch i % 3 {
		case 0:
			writeConfig(t, path, up.URL, ti, airports)
		case 1:
			writeConfig(t, path, up.URL, ti, "")
		case 2: // a bad file: refused, the running config stays
			os.WriteFile(path, []byte("listen: [oops\n"), 0o600)
		}
		g.reload <- struct{}{}
		time.Sleep(25 * time.Millisecond)
	}
	writeConfig(t, path, up.URL, ti, airports)
	g.reload <- struct{}{}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() < 50 {
		t.Fatalf("ok=%d failed=%d through reloads", ok.Load(), failed.Load())
	}
	// The last good config (with the airports route) is in force.
	res, err := get(base+"/v1/airports/EDDF", tok)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("airports after reload: %d", res.StatusCode)
	}
	logs := g.logs.String()
	if !strings.Contains(logs, "config reload refused") || !strings.Contains(logs, "config reloaded") {
		t.Errorf("reload log lines missing:\n%s", logs)
	}
	if strings.Contains(logs, tok) {
		t.Error("a token reached the log")
	}
}

// TestServeShutdownDrains starts slow requests, asks the gateway to stop, and
// checks every request in flight completes.
func TestServeShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	_, ti, path := configFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-release
		io.WriteString(w, `{"ok":true}`)
	}))
	g := startGateway(t, path)
	tok := ti.token(t, "charts")
	base := "http://" + g.addrs.Public

	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			res, err := get(base+"/v1/charts/EDDF", tok)
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || string(b) != `{"ok":true}` {
				errs <- fmt.Errorf("status %d body %q", res.StatusCode, b)
				return
			}
			errs <- nil
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for arrived.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if arrived.Load() != n {
		t.Fatalf("only %d of %d requests reached the upstream", arrived.Load(), n)
	}
	g.cancel() // SIGTERM
	time.Sleep(100 * time.Millisecond)
	// New connections are refused while the old requests drain.
	if _, err := get(base+"/v1/charts/EDDF", tok); err == nil {
		t.Error("a new request was accepted during shutdown")
	}
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("in-flight request failed: %v", err)
		}
	}
	select {
	case code := <-g.done:
		if code != 0 {
			t.Errorf("exit code %d", code)
		}
		g.done <- code
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit after draining")
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(path, []byte("listen: \":8080\"\nroutes:\n  - name: a\n    path: nope\n    upstream: not-a-url\n    prot: 1\n"), 0o600)
	var out, errb bytes.Buffer
	code := Run(t.Context(), []string{"check", "--config", path}, Env{Stdout: &out, Stderr: &errb})
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("want at least 3 problems, got:\n%s", errb.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, path+":") {
			t.Errorf("problem line %q does not start with FILE:LINE:COL", l)
		}
	}
	if !strings.Contains(errb.String(), path+":6:5:") {
		t.Errorf("the unknown key prot is not reported at 6:5:\n%s", errb.String())
	}
}

func TestCheckAcceptsRepoConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(t.Context(), []string{"check", "--config", "../../gateway.yaml"}, Env{Stdout: &out, Stderr: &errb}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "ok") {
		t.Errorf("stdout %q", out.String())
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"client", "create", "--help"}, {"user", "add", "-h"}} {
		var out, errb bytes.Buffer
		if code := Run(t.Context(), args, Env{Stdout: &out, Stderr: &errb}); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		if !strings.Contains(out.String(), "Usage") && !strings.Contains(out.String(), "clearance") || errb.Len() != 0 {
			t.Errorf("%v: help on stdout %q, stderr %q", args, out.String(), errb.String())
		}
		if strings.Count(out.String(), "Usage:") > 1 {
			t.Errorf("%v: usage printed twice", args)
		}
	}
	var out, errb bytes.Buffer
	if code := Run(t.Context(), []string{"client", "create", "--bogus"}, Env{Stdout: &out, Stderr: &errb}); code != 2 || !strings.Contains(errb.String(), "bogus") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, errb.String())
	}
}

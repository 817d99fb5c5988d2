package attack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/clearance-gw/clearance/internal/cli"
	"github.com/clearance-gw/clearance/internal/testgateway"
)

// reloadFile is one version of the gateway.yaml of TestReloadIsOneTransaction.
type reloadFile struct {
	listen    string // default 127.0.0.1:0
	endpoints string // the endpoints: line, if any
	routes    string // routes after charts
	audience  string // the external issuer's extra audience, if any
	trusted   string // trusted issuers after the external one
	garbage   bool   // a syntax error at the end
}

// TestReloadIsOneTransaction reloads, while requests run continuously, a
// file that check accepts, files that it refuses, and one that changes a
// key only a restart applies, and looks at every component after each:
// the proxy's routes, the token and authorize endpoints, the discovery
// document, the portal and the guard's trusted issuers are all on the
// same config, the new one or the old one. No request may fail.
//
// Before, the proxy kept the endpoints it was started with while the
// discovery document named the reloaded ones, and check accepted a key
// set the guard then refused.
func TestReloadIsOneTransaction(t *testing.T) {
	up := newUpstream(t)
	ext := newExtIssuer(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	pub, err := jwk.PublicKeyOf(ext.Key)
	if err != nil {
		t.Fatal(err)
	}
	pubJSON, _ := json.Marshal(pub)

	render := func(f reloadFile) string {
		listen := f.listen
		if listen == "" {
			listen = "127.0.0.1:0"
		}
		aud := extAudience
		if f.audience != "" {
			aud = "[" + extAudience + ", " + f.audience + "]"
		}
		s := fmt.Sprintf(`listen: %q
admin_listen: "127.0.0.1:0"
issuer: %q
store: {driver: sqlite, dsn: %q}
%sscopes: [charts, airports]
routes:
  - name: charts
    path: /v1/charts/
    upstream: %s
    scopes: [charts]
%strusted_issuers:
  - issuer: %s
    jwks_url: %s/jwks.json
    audience: %s
    algorithms: [EdDSA]
%sserver: {shutdown_grace: 2s}
`, listen, gatewayIssuer, filepath.Join(dir, "clearance.db"), f.endpoints, up.srv.URL, f.routes, ext.URL, ext.JWKSURL, aud, f.trusted)
		if f.garbage {
			s += "routes: [unclosed\n"
		}
		return s
	}
	write := func(f reloadFile) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(render(f)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	route := func(name string) string {
		return fmt.Sprintf("  - name: %s\n    path: /v1/%s/\n    upstream: %s\n    scopes: [airports]\n", name, name, up.srv.URL)
	}

	// A: the start. B: everything moves. The rest must change nothing.
	fileA := reloadFile{}
	fileB := reloadFile{endpoints: "endpoints: {token: /oauth/token, authorize: /oauth/authorize}\n",
		routes: route("airports"), audience: "https://b.example"}
	garbage := fileB
	garbage.routes, garbage.garbage = route("airports")+route("extra"), true
	// An inline key set whose only key is of no use under RS256: check
	// used to accept it, the guard refused it.
	unusable := fileB
	unusable.endpoints = "endpoints: {token: /v2/token, authorize: /oauth/authorize}\n"
	unusable.routes = route("airports") + route("extra")
	unusable.trusted = "  - issuer: https://inline.example\n    jwks: '{\"keys\":[" + string(pubJSON) + "]}'\n    audience: " + extAudience + "\n    algorithms: [RS256]\n"
	// Valid, but the listener is set up once at start.
	relisten := fileB
	relisten.listen = "127.0.0.1:1"
	relisten.endpoints = "endpoints: {token: /v3/token, authorize: /oauth/authorize}\n"
	relisten.routes = route("airports") + route("extra")

	write(fileA)
	gw := testgateway.Start(t, cfgPath, testgateway.Options{LogOnFailure: true})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	g := &gateway{t: t, base: gw.Public(), admin: gw.Admin(), host: gw.Addrs.Public, cfg: cfgPath, logs: gw.Logs,
		up: up, ext: ext, client: &http.Client{Transport: tr, Timeout: 20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	secret := g.createClient("backend", "--grant", "client_credentials", "--scope", "charts")

	extToken := func(aud string) string {
		c := ext.claims()
		c["aud"], c["scope"] = aud, "charts airports"
		return ext.token(t, c)
	}
	tok, tokB := extToken(extAudience), extToken("https://b.example")

	// Load: requests on the route every version has, all the time.
	var (
		stop      atomic.Bool
		ok, fails atomic.Int64
		first     atomic.Value
		wg        sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				req, _ := http.NewRequest(http.MethodGet, g.base+"/v1/charts/EDDF", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := g.client.Do(req)
				if err != nil {
					fails.Add(1)
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					fails.Add(1)
					first.CompareAndSwap(nil, res.Status)
					continue
				}
				ok.Add(1)
			}
		})
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	reload := func() bool {
		t.Helper()
		count := func(msg string) int { return strings.Count(g.logs.String(), `"msg":"`+msg) }
		ok0, refused0 := count("config reloaded"), count("config reload refused")
		gw.Reload <- struct{}{}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if count("config reloaded") > ok0 {
				return true
			}
			if count("config reload refused") > refused0 {
				return false
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no reload outcome in the log")
		return false
	}
	check := func() int {
		var out, errb bytes.Buffer
		return cli.Run(t.Context(), []string{"check", "--config", cfgPath}, cli.Env{Stdout: &out, Stderr: &errb,
			LookupEnv: func(string) (string, bool) { return "", false }})
	}
	status := func(method, path, token string) int {
		t.Helper()
		var r response
		if method == http.MethodPost {
			r = g.postForm(path, url.Values{"grant_type": {"client_credentials"}}, "backend", secret)
		} else if token != "" {
			r = g.bearer(path, token)
		} else {
			r = g.get(path)
		}
		return r.status
	}
	// inForce asserts every component is on A (moved false) or on B.
	inForce := func(step string, moved bool) {
		t.Helper()
		tokenPath, authPath, oldToken, oldAuth, routeWant, audWant := "/token", "/authorize", "/oauth/token", "/oauth/authorize", 404, 401
		if moved {
			tokenPath, authPath, oldToken, oldAuth, routeWant, audWant = oldToken, oldAuth, tokenPath, authPath, 200, 200
		}
		if got := status(http.MethodPost, tokenPath, ""); got != 200 {
			t.Errorf("%s: token endpoint %s: %d", step, tokenPath, got)
		}
		if got := status(http.MethodPost, oldToken, ""); got != 404 {
			t.Errorf("%s: token endpoint %s still answers: %d", step, oldToken, got)
		}
		if got := status(http.MethodGet, authPath, ""); got == 404 {
			t.Errorf("%s: authorize endpoint %s is not served", step, authPath)
		}
		if got := status(http.MethodGet, oldAuth, ""); got != 404 {
			t.Errorf("%s: authorize endpoint %s still answers: %d", step, oldAuth, got)
		}
		var meta struct {
			Token     string `json:"token_endpoint"`
			Authorize string `json:"authorization_endpoint"`
		}
		if r := g.get("/.well-known/oauth-authorization-server"); r.status != 200 || json.Unmarshal([]byte(r.body), &meta) != nil {
			t.Fatalf("%s: discovery: %d %s", step, r.status, r.body)
		}
		if meta.Token != gatewayIssuer+tokenPath || meta.Authorize != gatewayIssuer+authPath {
			t.Errorf("%s: discovery names %s and %s, the gateway serves %s and %s", step, meta.Token, meta.Authorize, tokenPath, authPath)
		}
		if got := status(http.MethodGet, "/v1/airports/EDDF", tok); got != routeWant {
			t.Errorf("%s: route airports: %d, want %d", step, got, routeWant)
		}
		if got := status(http.MethodGet, "/v1/charts/EDDF", tokB); got != audWant {
			t.Errorf("%s: guard: a token for the audience of B gets %d, want %d", step, got, audWant)
		}
		for _, p := range []string{"/v1/extra/x", "/v2/token", "/v3/token"} {
			if got := status(http.MethodGet, p, tok); got != 404 {
				t.Errorf("%s: %s of a refused file: %d", step, p, got)
			}
		}
	}

	inForce("start", false)
	type step struct {
		name    string
		file    reloadFile
		checkOK bool
		applied bool
		moved   bool   // B in force afterwards
		log     string // in the refusal
	}
	steps := []step{
		{"B: routes, endpoints, audience", fileB, true, true, true, ""},
		{"a syntax error", garbage, false, false, true, "invalid YAML"},
		{"an unusable inline key set", unusable, false, false, true, "no usable signing keys"},
		{"a new listen address", relisten, true, false, true, "listen: cannot change while the gateway runs"},
		{"back to A", fileA, true, true, false, ""},
	}
	const rounds = 3
	// The steps run in this test (not subtests): the harness's helpers
	// fail the test they were made for.
	for i := range rounds * len(steps) {
		s := steps[i%len(steps)]
		write(s.file)
		if code := check(); (code == 0) != s.checkOK {
			t.Errorf("%s: check exit %d, want ok=%v", s.name, code, s.checkOK)
		}
		if got := reload(); got != s.applied {
			t.Errorf("%s: reloaded = %v, want %v", s.name, got, s.applied)
		}
		if s.log != "" && !strings.Contains(g.logs.String(), s.log) {
			t.Errorf("%s: the refusal does not say %q", s.name, s.log)
		}
		inForce(s.name, s.moved)
	}

	stop.Store(true)
	wg.Wait()
	if n := fails.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", n, n+ok.Load(), first.Load())
	}
	if ok.Load() < 20 {
		t.Errorf("only %d requests ran during the reloads", ok.Load())
	}
	t.Logf("%d requests, %d reloads, 0 failures", ok.Load(), rounds*len(steps))
}

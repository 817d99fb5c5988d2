package attack

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/cli"
	"github.com/clearance-gw/clearance/internal/testgateway"
	"github.com/clearance-gw/clearance/internal/testissuer"
	"github.com/clearance-gw/clearance/internal/testlog"
)

// The audience and issuer of the gateway under attack.
const (
	gatewayIssuer = "http://gateway.test"
	extAudience   = gatewayIssuer
)

// seen is one request as the upstream received it.
type seen struct {
	Method     string
	RequestURI string
	Path       string
	RawQuery   string
	Header     http.Header
}

// upstream records every request it receives and answers 200 JSON.
type upstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []seen
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.got = append(u.got, seen{Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path,
			RawQuery: r.URL.RawQuery, Header: r.Header.Clone()})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// requests returns what the upstream received so far.
func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.got...)
}

// last returns the last request the upstream received.
func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	got := u.requests()
	if len(got) == 0 {
		t.Fatal("the upstream received no request")
	}
	return got[len(got)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

// extIssuer is a trusted external issuer whose private key the test holds,
// so it can sign tokens with any claims (Sign); its JWKS server counts
// fetches.
type extIssuer struct{ *testissuer.Issuer }

func newExtIssuer(t *testing.T) *extIssuer {
	t.Helper()
	return &extIssuer{testissuer.New(t, "ext-1")}
}

// claims returns a valid claim set of the external issuer, for the
// attacks to modify.
func (e *extIssuer) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": e.URL, "sub": "alice", "aud": extAudience, "client_id": "ext-client",
		"scope": "charts", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": fmt.Sprint(now.UnixNano()),
	}
}

// token signs claims with the standard header.
func (e *extIssuer) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	return e.Sign(t, `{"alg":"EdDSA","kid":"ext-1","typ":"at+jwt"}`, mustJSON(t, claims))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var b64 = base64.RawURLEncoding

// gatewayOptions shape the config of one gateway under attack.
type gatewayOptions struct {
	extraRoutes string // YAML list items appended to routes
	debugLog    bool   // log at debug level
	// trustedProxies is server.trusted_proxies (none when empty).
	trustedProxies []string
}

// gateway is "clearance serve" running in-process.
type gateway struct {
	t      *testing.T
	base   string // http://host:port of the public listener
	admin  string // http://host:port of the admin listener
	host   string // host:port of the public listener
	cfg    string // config path
	logs   *testlog.Buffer
	up     *upstream
	ext    *extIssuer
	client *http.Client // does not follow redirects
}

func startGateway(t *testing.T, opts gatewayOptions) *gateway {
	t.Helper()
	up := newUpstream(t)
	ext := newExtIssuer(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: %q
store: {driver: sqlite, dsn: %q}
scopes: [charts, airports]
routes:
  - name: charts
    path: /v1/charts/
    upstream: %s
    scopes: [charts]
  - name: public
    path: /v1/public/
    upstream: %s
    public: true
  - name: fwd
    path: /v1/fwd/
    upstream: %s
    scopes: [charts]
    forward_authorization: true
  - name: ext
    path: /v1/ext/
    upstream: %s
    scopes: [charts]
    allowed_origins: ["https://ext.example"]
%s
trusted_issuers:
  - issuer: %s
    jwks_url: %s/jwks.json
    audience: %s
    algorithms: [EdDSA]
server: {shutdown_grace: 2s, trusted_proxies: %s}
log: {level: %s}
`, gatewayIssuer, filepath.Join(dir, "clearance.db"), up.srv.URL, up.srv.URL, up.srv.URL, up.srv.URL,
		opts.extraRoutes, ext.URL, ext.JWKSURL, extAudience, mustJSON(t, append([]string{}, opts.trustedProxies...)),
		map[bool]string{true: "debug", false: "info"}[opts.debugLog])
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := testgateway.Start(t, cfgPath, testgateway.Options{})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &gateway{t: t, base: gw.Public(), admin: gw.Admin(), host: gw.Addrs.Public,
		cfg: cfgPath, logs: gw.Logs, up: up, ext: ext,
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// cli runs one clearance command against the gateway's config.
func (g *gateway) cli(stdin string, args ...string) string {
	g.t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Now: time.Now,
		LookupEnv: func(string) (string, bool) { return "", false }}
	args = append(args, "--config", g.cfg)
	if code := cli.Run(g.t.Context(), args, env); code != 0 {
		g.t.Fatalf("clearance %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// createClient registers a client and returns its secret ("" for a public
// client).
func (g *gateway) createClient(id string, args ...string) string {
	g.t.Helper()
	out := g.cli("", append([]string{"client", "create", "--id", id, "--name", id, "--json"}, args...)...)
	var res struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		g.t.Fatalf("client create --json: %v\n%s", err, out)
	}
	return res.Secret
}

func (g *gateway) addUser(name, password string, args ...string) {
	g.t.Helper()
	g.cli(password+"\n", append([]string{"user", "add", name}, args...)...)
}

// response is a finished exchange.
type response struct {
	status int
	header http.Header
	body   string
}

func (g *gateway) do(req *http.Request) response {
	g.t.Helper()
	res, err := g.client.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// get calls path on the public listener with the given headers
// (alternating names and values).
func (g *gateway) get(path string, headers ...string) response {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.base+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return g.do(req)
}

// bearer calls path with the token in the Authorization header.
func (g *gateway) bearer(path, token string, headers ...string) response {
	g.t.Helper()
	return g.get(path, append([]string{"Authorization", "Bearer " + token}, headers...)...)
}

// postForm posts a form body to path, with Basic credentials when id is
// not empty.
func (g *gateway) postForm(path string, form url.Values, id, secret string) response {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return g.do(req)
}

// tokenResponse is the JSON answer of the token endpoint.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
}

func parseToken(t *testing.T, r response) tokenResponse {
	t.Helper()
	var tr tokenResponse
	if err := json.Unmarshal([]byte(r.body), &tr); err != nil {
		t.Fatalf("token endpoint answered %d %q: %v", r.status, r.body, err)
	}
	return tr
}

// token asks the token endpoint and requires success.
func (g *gateway) token(id, secret string, form url.Values) tokenResponse {
	g.t.Helper()
	r := g.postForm("/token", form, id, secret)
	if r.status != http.StatusOK {
		g.t.Fatalf("token request %v: %d %s", form, r.status, r.body)
	}
	tr := parseToken(g.t, r)
	if tr.AccessToken == "" {
		g.t.Fatalf("no access token in %s", r.body)
	}
	return tr
}

// tokenError asks the token endpoint and returns the status and the
// error code, requiring a failure.
func (g *gateway) tokenError(id, secret string, form url.Values) (int, string) {
	g.t.Helper()
	r := g.postForm("/token", form, id, secret)
	tr := parseToken(g.t, r)
	if r.status == http.StatusOK || tr.AccessToken != "" {
		g.t.Fatalf("token request %v succeeded: %s", form, r.body)
	}
	return r.status, tr.Error
}

// eventually polls cond for up to 3 s (revocations reach a running gateway
// within a second).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 3s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// raw sends bytes as one HTTP/1.1 request on a new connection and reads
// the response, so that paths and headers reach the gateway exactly as
// written (no client-side cleaning or canonicalisation).
func (g *gateway) raw(request string) response {
	g.t.Helper()
	c, err := net.DialTimeout("tcp", g.host, 5*time.Second)
	if err != nil {
		g.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		g.t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		g.t.Fatalf("read response to %q: %v", request, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// rawGet sends "GET target" with the given extra header lines.
func (g *gateway) rawGet(target string, headerLines ...string) response {
	g.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", target, g.host)
	for _, h := range headerLines {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return g.raw(b.String())
}

// browser is a cookie-keeping client that does not follow redirects.
func (g *gateway) browser() *http.Client {
	g.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		g.t.Fatal(err)
	}
	return &http.Client{Transport: g.client.Transport, Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// basic encodes HTTP Basic client credentials as RFC 6749 §2.3.1 says.
func basic(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

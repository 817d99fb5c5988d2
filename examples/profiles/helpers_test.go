package profiles

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clearance-gw/clearance/examples/upstream/sampleapi"
	"github.com/clearance-gw/clearance/internal/cli"
	"github.com/clearance-gw/clearance/internal/testgateway"
)

// profile is an example file made runnable in a test: ports chosen by the
// kernel, a fresh store, every route pointed at a test upstream.
type profile struct {
	t    *testing.T
	path string            // the derived gateway.yaml
	env  map[string]string // what ${VAR} sees
	up   *httptest.Server  // the sample aviation data API
	gw   cli.Addrs
	base string // http://public-listener
}

// deriveProfile reads examples/NAME.yaml and writes a copy with listen and
// admin_listen on 127.0.0.1:0, the store in a temp dir, routes pointed at a
// sample upstream, and the top-level keys of extra (YAML) added or replaced.
func deriveProfile(t *testing.T, name, extra string, env map[string]string) *profile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	p := &profile{t: t, env: env, path: filepath.Join(t.TempDir(), "gateway.yaml")}
	p.up = httptest.NewServer(sampleapi.NewHandler())
	t.Cleanup(p.up.Close)

	setKey(root, "listen", scalar("127.0.0.1:0"))
	setKey(root, "admin_listen", scalar("127.0.0.1:0"))
	store := &yaml.Node{Kind: yaml.MappingNode}
	setKey(store, "driver", scalar("sqlite"))
	setKey(store, "dsn", scalar(filepath.Join(filepath.Dir(p.path), "clearance.db")))
	setKey(root, "store", store)
	setKey(root, "server", mapping("shutdown_grace", "5s"))
	setKey(root, "log", mapping("level", "warn"))
	if routes := getKey(root, "routes"); routes != nil {
		for _, r := range routes.Content {
			setKey(r, "upstream", scalar(p.up.URL))
		}
	}
	if extra != "" {
		var ex yaml.Node
		if err := yaml.Unmarshal([]byte(extra), &ex); err != nil {
			t.Fatal(err)
		}
		m := ex.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			setKey(root, m.Content[i].Value, m.Content[i+1])
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

func mapping(k, v string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	setKey(m, k, scalar(v))
	return m
}

func getKey(m *yaml.Node, k string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			return m.Content[i+1]
		}
	}
	return nil
}

func setKey(m *yaml.Node, k string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(k), v)
}

func (p *profile) cliEnv(stdin string, stdout, stderr io.Writer) cli.Env {
	return cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: stdout, Stderr: stderr, Now: time.Now,
		LookupEnv: func(k string) (string, bool) { v, ok := p.env[k]; return v, ok },
	}
}

// clearance runs one command on the profile's config and returns stdout.
func (p *profile) clearance(stdin string, args ...string) string {
	p.t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--config", p.path)
	if code := cli.Run(p.t.Context(), args, p.cliEnv(stdin, &out, &errb)); code != 0 {
		p.t.Fatalf("clearance %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// createClient registers a client and returns its secret.
func (p *profile) createClient(args ...string) string {
	p.t.Helper()
	var out struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(p.clearance("", append([]string{"client", "create", "--json"}, args...)...)), &out); err != nil {
		p.t.Fatal(err)
	}
	return out.Secret
}

// serve runs "clearance serve" on the profile until the test ends; its
// log is written to the test's log when the test fails.
func (p *profile) serve() {
	p.t.Helper()
	g := testgateway.Start(p.t, p.path, testgateway.Options{
		LookupEnv:    func(k string) (string, bool) { v, ok := p.env[k]; return v, ok },
		LogOnFailure: true,
	})
	p.gw = g.Addrs
	p.base = g.Public()
}

// reply is one HTTP answer, its JSON body decoded when it is an object.
type reply struct {
	status int
	header http.Header
	raw    string
	json   map[string]any
}

func (r reply) str(k string) string { s, _ := r.json[k].(string); return s }

func (r reply) num(k string) float64 { n, _ := r.json[k].(float64); return n }

func (p *profile) do(method, url, contentType, body string, headers ...string) reply {
	p.t.Helper()
	req, err := http.NewRequestWithContext(p.t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	r := reply{status: res.StatusCode, header: res.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.json)
	return r
}

// post sends a token request body to the gateway's path.
func (p *profile) post(path, contentType, body string, headers ...string) reply {
	p.t.Helper()
	return p.do(http.MethodPost, p.base+path, contentType, body, headers...)
}

// get calls the gateway with a bearer token (none if empty).
func (p *profile) get(path, token string) reply {
	p.t.Helper()
	if token == "" {
		return p.do(http.MethodGet, p.base+path, "", "")
	}
	return p.do(http.MethodGet, p.base+path, "", "", "Authorization", "Bearer "+token)
}

// claims decodes a JWT's payload (the gateway verified it; the test reads it).
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// assertToken checks a successful token response: the RFC 6749 §5.1 fields,
// no-store, the lifetime both in expires_in and in the JWT, and whether a
// refresh token came with it.
func assertToken(t *testing.T, r reply, ttl time.Duration, scope string, refresh bool) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token request: %d %s", r.status, r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("headers %v", r.header)
	}
	if r.str("access_token") == "" || r.str("token_type") != "Bearer" || r.str("scope") != scope {
		t.Errorf("response %s, want a Bearer token with scope %q", r.raw, scope)
	}
	if got := time.Duration(r.num("expires_in")) * time.Second; got != ttl {
		t.Errorf("expires_in = %s, want %s", got, ttl)
	}
	if _, has := r.json["refresh_token"]; has != refresh {
		t.Errorf("refresh_token present = %v, want %v: %s", has, refresh, r.raw)
	}
	c := claims(t, r.str("access_token"))
	if exp, iat := c["exp"].(float64), c["iat"].(float64); time.Duration(exp-iat)*time.Second != ttl {
		t.Errorf("token lives exp-iat = %s, want %s", time.Duration(exp-iat)*time.Second, ttl)
	}
	if c["scope"] != scope {
		t.Errorf("scope claim %v, want %q", c["scope"], scope)
	}
}

// assertError checks an RFC 6749/6750 JSON error.
func assertError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
	if r.str("error_description") == "" && code != "unauthorized" {
		t.Errorf("no error_description: %s", r.raw)
	}
}

func TestEveryExamplePassesCheck(t *testing.T) {
	// The variables each file reads (${NAME}); none for the profiles.
	env := map[string]map[string]string{
		"plans": {"PARTNER_SECRET": "sample-partner-secret-1"},
	}
	for _, name := range []string{"capa", "altitudeangel", "navigraph", "plans"} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			path := filepath.Join("..", name+".yaml")
			code := cli.Run(t.Context(), []string{"check", "--config", path}, cli.Env{Stdout: &out, Stderr: &errb,
				LookupEnv: func(k string) (string, bool) { v, ok := env[name][k]; return v, ok }})
			if code != 0 || !strings.Contains(out.String(), "ok") {
				t.Fatalf("clearance check %s: exit %d\n%s%s", path, code, out.String(), errb.String())
			}
		})
	}
}

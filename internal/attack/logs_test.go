package attack

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	preSecret = regexp.MustCompile(`<pre class="secret" id="(?:secret|token)">([^<]+)</pre>`)
)

// TestLogsNeverCarrySecrets runs every flow that handles a credential,
// with the log at debug level, and then searches the log for each one.
func TestLogsNeverCarrySecrets(t *testing.T) {
	g := startGateway(t, gatewayOptions{debugLog: true})
	const cb = "https://app.example/cb"
	var secrets []string
	keep := func(what string, vs ...string) {
		for _, v := range vs {
			if v == "" {
				t.Fatalf("%s: empty value", what)
			}
			secrets = append(secrets, v)
		}
	}
	backend := g.createClient("backend", "--grant", "client_credentials", "--scope", "charts")
	app := g.createClient("app", "--first-party", "--grant", "password", "--grant", "refresh_token", "--grant", "a2a",
		"--grant", "authorization_code", "--grant", "implicit", "--redirect-uri", cb, "--scope", "charts", "--origin", "https://app.example")
	const password, wrongPassword = "alice correct horse", "alice WRONG horse guess"
	g.addUser("alice", password, "--scope", "charts")
	keep("client secrets", backend, app)
	keep("passwords", password, wrongPassword)

	// The token endpoint, every way a credential can travel.
	at1 := g.token("backend", backend, url.Values{"grant_type": {"client_credentials"}})
	at2 := g.token("", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"backend"}, "client_secret": {backend}})
	pw := g.token("app", app, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}})
	ref := g.token("app", app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pw.RefreshToken}})
	g.tokenError("app", app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pw.RefreshToken}})
	g.tokenError("app", app, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {wrongPassword}})
	g.tokenError("backend", app, url.Values{"grant_type": {"client_credentials"}})
	a2a := g.token("app", app, url.Values{"grant_type": {"a2a"}, "username": {"alice"}, "password": {password}})
	req, _ := http.NewRequest(http.MethodPost, g.base+"/token", strings.NewReader(`{"grant_type":"client_credentials","client_id":"backend","client_secret":"`+backend+`"}`))
	req.Header.Set("Content-Type", "application/json")
	if r := g.do(req); r.status != http.StatusOK {
		t.Fatalf("JSON token request: %d %s", r.status, r.body)
	}
	keep("tokens", at1.AccessToken, at2.AccessToken, pw.AccessToken, pw.RefreshToken, ref.AccessToken, ref.RefreshToken, a2a.AccessToken)

	// Browser flows: login, code with PKCE, implicit, a failed login.
	b := g.browser()
	failed := g.browser()
	f := hiddenFields(g.page(failed, http.MethodGet, "/portal/login", nil).body)
	f.Set("username", "alice")
	f.Set("password", wrongPassword)
	g.page(failed, http.MethodPost, "/portal/login", f)
	g.login(b, "alice", password, "")
	verifier, challenge := pkce("log-test-verifier-0123456789-0123456789-0123456789")
	code := g.code(b, "app", cb, challenge, "charts")
	ex := g.token("app", app, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}, "code_verifier": {verifier}})
	g.tokenError("app", app, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}, "code_verifier": {verifier}})
	imp := g.authorize(b, url.Values{"response_type": {"token"}, "client_id": {"app"}, "redirect_uri": {cb}, "state": {"state-value-xyz"}})
	frag, _ := url.ParseQuery(imp.Fragment)
	keep("browser flow values", code, verifier, challenge, ex.AccessToken, ex.RefreshToken, frag.Get("access_token"))

	// The portal: a new client's secret, an a2a token, the session cookie
	// and CSRF token.
	list := g.page(b, http.MethodGet, "/portal/", nil)
	csrf := hiddenFields(list.body).Get("csrf_token")
	if r := g.page(b, http.MethodPost, "/portal/clients", url.Values{"csrf_token": {csrf}, "id": {"portal-made"}, "name": {"Portal made"}, "scope": {"charts"}}); r.status != http.StatusSeeOther {
		t.Fatalf("portal create: %d", r.status)
	}
	page := g.page(b, http.MethodGet, "/portal/clients/portal-made", nil)
	m := preSecret.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("no secret shown after creating a client in the portal")
	}
	keep("portal secret", m[1], csrf)
	if r := g.page(b, http.MethodPost, "/portal/clients/portal-made/tokens", url.Values{"csrf_token": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("portal token: %d %s", r.status, r.body)
	}
	if m := preSecret.FindStringSubmatch(g.page(b, http.MethodGet, "/portal/clients/portal-made", nil).body); m != nil {
		keep("portal a2a token", m[1])
	} else {
		t.Error("no token shown after Create token")
	}
	u, _ := url.Parse(g.base + "/portal/")
	for _, c := range b.Jar.Cookies(u) {
		keep("cookie "+c.Name, c.Value)
	}

	// The proxy: tokens in the header and the query, garbage tokens, a
	// cross-origin request, and revocation and introspection.
	g.bearer("/v1/charts/x", at1.AccessToken)
	g.rawGet("/v1/charts/x?access_token=" + at2.AccessToken + "&q=query-marker-123")
	g.rawGet("/v1/charts/x?access_token=" + at2.AccessToken + "x")
	g.bearer("/v1/charts/x", pw.AccessToken)
	g.bearer("/v1/charts/x", ref.AccessToken, "Origin", "https://evil.example")
	const garbage = "garbage-bearer-value-that-looks-secret"
	g.bearer("/v1/charts/x", garbage)
	g.bearer("/v1/charts/x", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJnYXJiYWdlLXN1YiJ9.c2lnbmF0dXJl")
	g.get("/v1/public/x?access_token=" + a2a.AccessToken)
	g.postForm("/introspect", url.Values{"token": {ref.AccessToken}}, "app", app)
	g.postForm("/revoke", url.Values{"token": {ex.RefreshToken}}, "app", app)
	g.postForm("/revoke", url.Values{"token": {at1.AccessToken}}, "backend", backend)
	keep("garbage", garbage, "eyJzdWIiOiJnYXJiYWdlLXN1YiJ9", "query-marker-123")

	logs := g.logs.String()
	if !strings.Contains(logs, `"request_id"`) {
		t.Fatalf("no request log lines:\n%s", logs)
	}
	for _, s := range secrets {
		probe := s
		if len(probe) > 24 && strings.Count(probe, ".") == 2 {
			probe = probe[strings.LastIndexByte(probe, '.')+1:] // a JWT's signature
		}
		if strings.Contains(logs, probe) || strings.Contains(logs, url.QueryEscape(probe)) {
			i := strings.Index(logs, probe)
			start := strings.LastIndexByte(logs[:max(i, 0)], '\n') + 1
			end := strings.IndexByte(logs[start:], '\n')
			if end < 0 {
				end = len(logs) - start
			}
			t.Errorf("the log holds a secret value (%.12s...): %s", probe, logs[start:start+end])
		}
	}
	for _, hdr := range []string{"Set-Cookie", "Cookie"} {
		if strings.Contains(logs, hdr) {
			t.Errorf("the log mentions %s", hdr)
		}
	}
}

package profiles

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/cli"
)

const (
	alicePassword = "alice's long password"
	opsPassword   = "operations desk password"
)

// jsonBody encodes a token request as the capa seed shows it: a JSON object
// of strings posted with Content-Type: application/json.
func jsonBody(t *testing.T, kv ...string) string {
	t.Helper()
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCAPA follows the capa seed: JSON bodies to /account/token, 8-hour
// access tokens with month-long rotating refresh tokens, the first-party
// password, a2a and admin grants, and the single scope user.
func TestCAPA(t *testing.T) {
	p := deriveProfile(t, "capa", "", nil)
	p.clearance(alicePassword+"\n", "user", "add", "alice")
	p.clearance(opsPassword+"\n", "user", "add", "ops", "--admin")
	appSecret := p.createClient("--id", "capa-app", "--name", "CAPA app", "--first-party",
		"--grant", "password", "--grant", "refresh_token", "--grant", "a2a", "--grant", "admin", "--scope", "user")
	partnerSecret := p.createClient("--id", "partner-site", "--name", "Partner site",
		"--grant", "authorization_code", "--grant", "refresh_token", "--grant", "implicit",
		"--redirect-uri", "https://partner.example/callback", "--scope", "user")
	p.serve()

	// Step 1: the discovery document names /account/token, and /authorize
	// on the issuer (the site's host).
	r := p.get("/.well-known/oauth-authorization-server", "")
	if r.status != http.StatusOK || r.str("token_endpoint") != "http://localhost:8080/account/token" ||
		r.str("authorization_endpoint") != "http://localhost:8080/authorize" {
		t.Fatalf("metadata: %d %s", r.status, r.raw)
	}

	// Step 2: the password grant with a JSON body: 8 hours, and a refresh
	// token.
	r = p.post("/account/token", "application/json", jsonBody(t, "grant_type", "password",
		"client_id", "capa-app", "client_secret", appSecret, "username", "alice", "password", alicePassword, "scope", "user"))
	assertToken(t, r, 8*time.Hour, "user", true)
	access, refresh := r.str("access_token"), r.str("refresh_token")
	if c := claims(t, access); c["sub"] != "alice" || c["client_id"] != "capa-app" || c["iss"] != "http://localhost:8080" {
		t.Errorf("claims %v", c)
	}

	// The refresh token lasts a month: the session's expiry says so.
	var sessions []struct {
		Kind      string `json:"kind"`
		Subject   string `json:"subject"`
		CreatedAt string `json:"created_at"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(p.clearance("", "sessions", "list", "--client", "capa-app", "--json")), &sessions); err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %v %+v", err, sessions)
	}
	created, _ := time.Parse(time.RFC3339, sessions[0].CreatedAt)
	expires, _ := time.Parse(time.RFC3339, sessions[0].ExpiresAt)
	if d := expires.Sub(created); d < 720*time.Hour-2*time.Second || d > 720*time.Hour+2*time.Second || sessions[0].Subject != "alice" {
		t.Errorf("session %+v lives %s, want 720h", sessions[0], d)
	}

	// Step 3: the API with the token.
	if r := p.get("/v1/airports/EDDF", access); r.status != http.StatusOK || r.str("icao") != "EDDF" {
		t.Fatalf("API: %d %s", r.status, r.raw)
	}
	who := p.get("/v1/whoami", access)
	if h, _ := who.json["headers"].(map[string]any); h["X-Auth-Subject"] != "alice" || h["X-Auth-Client-Id"] != "capa-app" || h["X-Auth-Scope"] != "user" {
		t.Errorf("identity headers the API got: %s", who.raw)
	}
	assertError(t, p.get("/v1/airports/EDDF", ""), http.StatusUnauthorized, "unauthorized")
	if r := p.get("/v1/status", ""); r.status != http.StatusOK {
		t.Errorf("public status: %d", r.status)
	}

	// Step 4: refresh with a JSON body. The pair rotates; the old refresh
	// token and the access token issued with it stop working at once.
	r = p.post("/account/token", "application/json", jsonBody(t, "grant_type", "refresh_token",
		"client_id", "capa-app", "client_secret", appSecret, "refresh_token", refresh))
	assertToken(t, r, 8*time.Hour, "user", true)
	access2, refresh2 := r.str("access_token"), r.str("refresh_token")
	if refresh2 == refresh {
		t.Fatal("the refresh token did not rotate")
	}
	assertError(t, p.get("/v1/airports/EDDF", access), http.StatusUnauthorized, "invalid_token")
	if r := p.get("/v1/airports/EDDF", access2); r.status != http.StatusOK {
		t.Fatalf("rotated token: %d %s", r.status, r.raw)
	}
	// Presenting the used refresh token again revokes the whole session.
	r = p.post("/account/token", "application/json", jsonBody(t, "grant_type", "refresh_token",
		"client_id", "capa-app", "client_secret", appSecret, "refresh_token", refresh))
	assertError(t, r, http.StatusBadRequest, "invalid_grant")
	assertError(t, p.get("/v1/airports/EDDF", access2), http.StatusUnauthorized, "invalid_token")
	r = p.post("/account/token", "application/json", jsonBody(t, "grant_type", "refresh_token",
		"client_id", "capa-app", "client_secret", appSecret, "refresh_token", refresh2))
	assertError(t, r, http.StatusBadRequest, "invalid_grant")

	// Step 5: the a2a grant (here with a form body, which capa accepts
	// too): a year, and no refresh token.
	r = p.post("/account/token", formType, url.Values{"grant_type": {"a2a"}, "username": {"alice"}, "password": {alicePassword}}.Encode(),
		"Authorization", basic("capa-app", appSecret))
	assertToken(t, r, 8760*time.Hour, "user", false)
	if r := p.get("/v1/airports/EDDF", r.str("access_token")); r.status != http.StatusOK {
		t.Errorf("a2a token at the API: %d", r.status)
	}
	t.Run("the CLI mints a2a tokens too", func(t *testing.T) {
		out := p.clearance("", "token", "a2a", "--client", "capa-app", "--user", "alice")
		var tok string
		for _, f := range strings.Fields(out) {
			if strings.Count(f, ".") == 2 && len(f) > 100 {
				tok = f
			}
		}
		if tok == "" {
			t.Fatalf("no token in %q", out)
		}
		c := claims(t, tok)
		if exp, iat := c["exp"].(float64), c["iat"].(float64); time.Duration(exp-iat)*time.Second != 8760*time.Hour {
			t.Errorf("a2a token lives %s", time.Duration(exp-iat)*time.Second)
		}
	})

	// Step 6: the admin grant: an administrator obtains a token for a user;
	// the token names the administrator in act.
	r = p.post("/account/token", "application/json", jsonBody(t, "grant_type", "admin",
		"client_id", "capa-app", "client_secret", appSecret, "username", "ops", "password", opsPassword, "subject", "alice"))
	assertToken(t, r, 8*time.Hour, "user", false)
	if c := claims(t, r.str("access_token")); c["sub"] != "alice" || fmt.Sprint(c["act"]) != "map[sub:ops]" {
		t.Errorf("admin token claims %v", c)
	}
	r = p.post("/account/token", "application/json", jsonBody(t, "grant_type", "admin",
		"client_id", "capa-app", "client_secret", appSecret, "username", "alice", "password", alicePassword, "subject", "ops"))
	assertError(t, r, http.StatusBadRequest, "invalid_grant")

	// Step 7: password, a2a and admin are first-party only at the token
	// endpoint. A partner's client cannot even have password or admin
	// enabled ("client create" refuses); it may have a2a (for tokens the
	// operator or its owner makes), but the token endpoint still refuses
	// it, because there the app would be sending a user's password.
	t.Run("a partner's client cannot get first-party grants", func(t *testing.T) {
		var out, errb strings.Builder
		code := cli.Run(t.Context(), []string{"client", "create", "--id", "partner-2", "--name", "Partner 2",
			"--grant", "password", "--scope", "user", "--config", p.path}, p.cliEnv("", &out, &errb))
		if code != 1 || !strings.Contains(errb.String(), "first-party") {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	})
	a2aSecret := p.createClient("--id", "partner-a2a", "--name", "Partner a2a", "--grant", "a2a", "--scope", "user", "--config", p.path)
	r = p.post("/account/token", "application/json", jsonBody(t, "grant_type", "a2a",
		"client_id", "partner-a2a", "client_secret", a2aSecret, "username", "alice", "password", alicePassword))
	assertError(t, r, http.StatusBadRequest, "unauthorized_client")
	for _, grant := range []string{"password", "a2a", "admin"} {
		r := p.post("/account/token", "application/json", jsonBody(t, "grant_type", grant,
			"client_id", "partner-site", "client_secret", partnerSecret, "username", "alice", "password", alicePassword, "subject", "alice"))
		assertError(t, r, http.StatusBadRequest, "unauthorized_client")
		if !strings.Contains(r.str("error_description"), "first-party") && !strings.Contains(r.str("error_description"), "not enabled") {
			t.Errorf("%s: %s", grant, r.raw)
		}
	}

	// Step 8: the one scope is user; anything else is 400 invalid_scope.
	r = p.post("/account/token", "application/json", jsonBody(t, "grant_type", "password",
		"client_id", "capa-app", "client_secret", appSecret, "username", "alice", "password", alicePassword, "scope", "admin"))
	assertError(t, r, http.StatusBadRequest, "invalid_scope")
	if r := p.get("/.well-known/oauth-authorization-server", ""); !slices.Equal(strings.Fields(fmt.Sprint(r.json["scopes_supported"])), []string{"[user]"}) {
		t.Errorf("scopes_supported = %v", r.json["scopes_supported"])
	}
}

// browser is a user agent with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", formType)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	page, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, string(page)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields are the hidden inputs of a page's forms.
func hiddenFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// authorize walks a browser through /authorize: the login page if it is
// not signed in yet, the consent page, allow. It returns the redirect to the client.
func (b *browser) authorize(q url.Values, user, password string) *url.URL {
	b.t.Helper()
	res, page := b.do(http.MethodGet, "/authorize?"+q.Encode(), nil)
	if res.StatusCode == http.StatusSeeOther {
		login := res.Header.Get("Location")
		if !strings.HasPrefix(login, "/portal/login") {
			b.t.Fatalf("authorize sent the browser to %q", login)
		}
		_, loginPage := b.do(http.MethodGet, login, nil)
		form := hiddenFields(loginPage)
		form.Set("username", user)
		form.Set("password", password)
		res, _ = b.do(http.MethodPost, "/portal/login", form)
		if res.StatusCode != http.StatusSeeOther {
			b.t.Fatalf("login: %d", res.StatusCode)
		}
		res, page = b.do(http.MethodGet, res.Header.Get("Location"), nil)
	}
	if res.StatusCode != http.StatusOK {
		b.t.Fatalf("consent page: %d", res.StatusCode)
	}
	if !strings.Contains(page, "Partner site") || !strings.Contains(page, "<code>user</code>") {
		b.t.Errorf("the consent page does not name the client and the scope:\n%s", page)
	}
	form := hiddenFields(page)
	form.Set("decision", "allow")
	res, _ = b.do(http.MethodPost, "/authorize", form)
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("allow: %d", res.StatusCode)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// TestCAPASignIn follows the capa seed's browser flows on the site host: a
// partner site sends the user to /authorize, then trades the code at
// /account/token (JSON body); the implicit grant returns the token in the
// fragment, without a refresh token.
func TestCAPASignIn(t *testing.T) {
	p := deriveProfile(t, "capa", "", nil)
	p.clearance(alicePassword+"\n", "user", "add", "alice")
	partnerSecret := p.createClient("--id", "partner-site", "--name", "Partner site",
		"--grant", "authorization_code", "--grant", "refresh_token", "--grant", "implicit",
		"--redirect-uri", "https://partner.example/callback", "--scope", "user")
	p.serve()
	b := newBrowser(t, p.base)

	verifier := strings.Repeat("v3rifier-", 6)
	sum := sha256.Sum256([]byte(verifier))
	loc := b.authorize(url.Values{"response_type": {"code"}, "client_id": {"partner-site"},
		"redirect_uri": {"https://partner.example/callback"}, "scope": {"user"}, "state": {"s-42"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}, "alice", alicePassword)
	if loc.Scheme+"://"+loc.Host+loc.Path != "https://partner.example/callback" || loc.Query().Get("state") != "s-42" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %s", loc)
	}
	r := p.post("/account/token", "application/json", jsonBody(t, "grant_type", "authorization_code",
		"client_id", "partner-site", "client_secret", partnerSecret, "code", loc.Query().Get("code"),
		"redirect_uri", "https://partner.example/callback", "code_verifier", verifier))
	assertToken(t, r, 8*time.Hour, "user", true)
	if c := claims(t, r.str("access_token")); c["sub"] != "alice" || c["client_id"] != "partner-site" {
		t.Errorf("claims %v", c)
	}
	if r := p.get("/v1/airports/EDDF", r.str("access_token")); r.status != http.StatusOK {
		t.Errorf("API: %d %s", r.status, r.raw)
	}

	loc = b.authorize(url.Values{"response_type": {"token"}, "client_id": {"partner-site"},
		"redirect_uri": {"https://partner.example/callback"}, "scope": {"user"}, "state": {"s-43"}}, "alice", alicePassword)
	frag, err := url.ParseQuery(loc.Fragment)
	if err != nil || frag.Get("token_type") != "Bearer" || frag.Get("expires_in") != "28800" || frag.Get("state") != "s-43" || frag.Has("refresh_token") {
		t.Fatalf("implicit redirect %s", loc)
	}
	if r := p.get("/v1/airports/EDDF", frag.Get("access_token")); r.status != http.StatusOK {
		t.Errorf("implicit token at the API: %d %s", r.status, r.raw)
	}
}

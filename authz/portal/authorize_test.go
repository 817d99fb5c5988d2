package portal

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/websession"
)

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// authEnv has a confidential web client (code), a public SPA (code with
// PKCE, implicit) and one with two redirect URIs.
func authEnv(t testing.TB) *env {
	e := newEnv(t)
	e.addClient(store.Client{ID: "web", Name: "Web <App>", SecretHash: secret.HashSecret("s"),
		Grants: []string{"authorization_code", "refresh_token"}, Scopes: []string{"user", "query_mapdata"},
		RedirectURIs: []string{"https://web.example/cb?tenant=7"}, Owner: "bob"})
	e.addClient(store.Client{ID: "spa", Name: "SPA", Grants: []string{"authorization_code", "implicit"},
		Scopes: []string{"user"}, RedirectURIs: []string{"https://spa.example/cb"}})
	e.addClient(store.Client{ID: "two", Name: "Two", SecretHash: secret.HashSecret("s"),
		Grants: []string{"authorization_code"}, Scopes: []string{"user"},
		RedirectURIs: []string{"https://two.example/a", "https://two.example/b"}})
	return e
}

func authorizeURL(q url.Values) string { return "/authorize?" + q.Encode() }

func TestAuthorizeErrorPageNeverRedirects(t *testing.T) {
	e := authEnv(t)
	b := e.login("alice")
	tests := []struct {
		name string
		raw  string
		msg  string
	}{
		{"no client_id", "response_type=code&redirect_uri=https%3A%2F%2Fweb.example%2Fcb%3Ftenant%3D7", "client_id is missing"},
		{"unknown client", "response_type=code&client_id=nope&redirect_uri=https%3A%2F%2Fevil.example%2F", "not registered"},
		{"unregistered redirect URI", "response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", "redirect URI"},
		{"registered URI without its query", "response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fweb.example%2Fcb", "redirect URI"},
		{"registered URI with a trailing slash", "response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb%2F", "redirect URI"},
		{"registered URI in another case", "response_type=code&client_id=spa&redirect_uri=https%3A%2F%2FSPA.example%2Fcb", "redirect URI"},
		{"redirect URI missing with two registered", "response_type=code&client_id=two", "redirect_uri is missing"},
		{"redirect URI given twice", "response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb&redirect_uri=https%3A%2F%2Fevil.example%2F", "more than one"},
		{"client_id given twice", "response_type=code&client_id=spa&client_id=web", "more than one"},
		{"bad response type and bad redirect URI", "response_type=nonsense&client_id=spa&redirect_uri=https%3A%2F%2Fevil.example%2F", "redirect URI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, anon := range []bool{false, true} {
				br := b
				if anon {
					br = e.browser()
				}
				r := br.get("/authorize?" + tt.raw)
				wantStatus(t, r, http.StatusBadRequest)
				if loc := r.Header.Get("Location"); loc != "" {
					t.Fatalf("Location %q", loc)
				}
				if !strings.Contains(r.body, `id="auth-error"`) || !strings.Contains(r.body, tt.msg) {
					t.Fatalf("error page lacks %q:\n%s", tt.msg, r.body)
				}
			}
		})
	}
}

func TestAuthorizeRedirectsErrorsWithState(t *testing.T) {
	e := authEnv(t)
	b := e.login("alice")
	base := func(client string, kv ...string) url.Values {
		q := url.Values{"client_id": {client}, "state": {"xyz 1&2"}}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	tests := []struct {
		name     string
		q        url.Values
		target   string // the redirect URI the error goes to
		fragment bool
		code     string
	}{
		{"missing response_type", base("spa"), "https://spa.example/cb", false, "invalid_request"},
		{"unsupported response_type", base("spa", "response_type", "id_token"), "https://spa.example/cb", false, "unsupported_response_type"},
		{"code grant not enabled", base("two", "response_type", "token", "redirect_uri", "https://two.example/b"), "https://two.example/b", true, "unauthorized_client"},
		{"implicit not enabled", base("web", "response_type", "token"), "https://web.example/cb?tenant=7", true, "unauthorized_client"},
		{"undeclared scope", base("web", "response_type", "code", "scope", "user admin"), "https://web.example/cb?tenant=7", false, "invalid_scope"},
		{"PKCE plain refused", base("spa", "response_type", "code", "code_challenge", verifier, "code_challenge_method", "plain"), "https://spa.example/cb", false, "invalid_request"},
		{"PKCE without a method means plain: refused", base("spa", "response_type", "code", "code_challenge", challenge(verifier)), "https://spa.example/cb", false, "invalid_request"},
		{"PKCE unknown method", base("spa", "response_type", "code", "code_challenge", challenge(verifier), "code_challenge_method", "S512"), "https://spa.example/cb", false, "invalid_request"},
		{"PKCE malformed challenge", base("spa", "response_type", "code", "code_challenge", "short", "code_challenge_method", "S256"), "https://spa.example/cb", false, "invalid_request"},
		{"PKCE required for a public client", base("spa", "response_type", "code"), "https://spa.example/cb", false, "invalid_request"},
		{"implicit errors go in the fragment", base("spa", "response_type", "token", "scope", "nope"), "https://spa.example/cb", true, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.get(authorizeURL(tt.q))
			wantStatus(t, r, http.StatusFound)
			loc := r.Header.Get("Location")
			params := checkRedirect(t, loc, tt.target, tt.fragment)
			if params.Get("error") != tt.code || params.Get("state") != "xyz 1&2" {
				t.Fatalf("Location %q: error %q state %q", loc, params.Get("error"), params.Get("state"))
			}
		})
		// Before anyone signed in, the same error is a page: a redirect
		// would make the gateway an open redirector for whoever registered
		// the URI (RFC 9700 §4.11.2).
		t.Run(tt.name+" before sign-in", func(t *testing.T) {
			for _, method := range []string{"GET", "POST"} {
				anon := e.browser()
				var r response
				if method == "GET" {
					r = anon.get(authorizeURL(tt.q))
				} else {
					r = anon.post("/authorize", tt.q)
				}
				wantStatus(t, r, http.StatusBadRequest)
				if loc := r.Header.Get("Location"); loc != "" {
					t.Fatalf("%s: Location %q", method, loc)
				}
				if !strings.Contains(r.body, `id="auth-error"`) || !strings.Contains(r.body, "("+tt.code+")") ||
					!strings.Contains(r.body, `id="auth-error-back" href="/portal/"`) {
					t.Fatalf("%s: error page lacks the error %s or the link back:\n%s", method, tt.code, r.body)
				}
			}
		})
	}
	t.Run("a repeated parameter", func(t *testing.T) {
		r := b.get("/authorize?client_id=spa&response_type=code&response_type=token&state=s")
		params := checkRedirect(t, r.Header.Get("Location"), "https://spa.example/cb", false)
		if params.Get("error") != "invalid_request" {
			t.Fatalf("%v", params)
		}
	})
}

// checkRedirect checks that loc is target plus parameters in the query
// (keeping target's own) or the fragment, and returns the parameters.
func checkRedirect(t *testing.T, loc, target string, fragment bool) url.Values {
	t.Helper()
	if fragment {
		before, frag, ok := strings.Cut(loc, "#")
		if !ok || before != target {
			t.Fatalf("Location %q is not %s#…", loc, target)
		}
		v, err := url.ParseQuery(frag)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if strings.Contains(loc, "#") {
		t.Fatalf("Location %q has a fragment", loc)
	}
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	if !strings.HasPrefix(loc, target+sep) {
		t.Fatalf("Location %q is not %s%s…", loc, target, sep)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consent fetches the consent page and returns its form fields.
func consent(t *testing.T, b *browser, q url.Values) (url.Values, response) {
	t.Helper()
	r := b.get(authorizeURL(q))
	wantStatus(t, r, http.StatusOK)
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(between(r.body, `<main`, `</main>`), -1) {
		form.Set(unescape(m[1]), unescape(m[2]))
	}
	return form, r
}

func unescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&#43;", "+")
	return r.Replace(s)
}

func TestAuthorizeLoginThenConsent(t *testing.T) {
	e := authEnv(t)
	b := e.browser()
	q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "state": {"s1"}, "scope": {"user"}}
	r := b.get(authorizeURL(q))
	wantStatus(t, r, http.StatusSeeOther)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if loc.Path != "/portal/login" {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	next := loc.Query().Get("next")
	if !strings.HasPrefix(next, "/authorize?") {
		t.Fatalf("next %q", next)
	}
	if page := b.get(loc.RequestURI()); !strings.Contains(page.body, "Sign in to continue") {
		t.Fatal("the login page does not say why")
	}
	r = b.postForm(loc.RequestURI(), "/portal/login",
		url.Values{"username": {"alice"}, "password": {testPassword}, "next": {next}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.Header.Get("Location") != next {
		t.Fatalf("after login: %q, want %q", r.Header.Get("Location"), next)
	}
	page := b.get(next)
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{"Authorize Web &lt;App&gt;", "<code>web</code>", "<li><code>user</code></li>", "https://web.example"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(page.body, "<li><code>query_mapdata</code></li>") {
		t.Error("consent lists a scope that was not requested")
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://web.example") {
		t.Errorf("CSP %q does not let the form's redirect reach the client", csp)
	}
}

func TestAuthorizeConsentNeedsCSRF(t *testing.T) {
	e := authEnv(t)
	b := e.login("alice")
	form, _ := consent(t, b, url.Values{"response_type": {"code"}, "client_id": {"web"}})
	form.Del("csrf_token")
	form.Set("decision", "allow")
	r := b.post("/authorize", form)
	wantStatus(t, r, http.StatusForbidden)
	if r.Header.Get("Location") != "" {
		t.Fatal("redirected")
	}
}

func TestAuthorizeCodeGrant(t *testing.T) {
	e := authEnv(t)
	b := e.login("alice")
	for _, tt := range []struct {
		name       string
		q          url.Values
		target     string
		redirect   string // stored RedirectURI
		challenge  string
		wantScopes string
	}{
		{"confidential client, implied redirect URI, default scopes",
			url.Values{"client_id": {"web"}, "state": {"st/1"}}, "https://web.example/cb?tenant=7", "", "", "user query_mapdata"},
		{"public client with PKCE and explicit redirect URI",
			url.Values{"client_id": {"spa"}, "redirect_uri": {"https://spa.example/cb"}, "scope": {"user"},
				"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}, "state": {"st2"}},
			"https://spa.example/cb", "https://spa.example/cb", challenge(verifier), "user"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Set("response_type", "code")
			form, _ := consent(t, b, tt.q)
			form.Set("decision", "allow")
			r := b.post("/authorize", form)
			wantStatus(t, r, http.StatusSeeOther)
			params := checkRedirect(t, r.Header.Get("Location"), tt.target, false)
			if params.Get("state") != tt.q.Get("state") {
				t.Fatalf("state %q", params.Get("state"))
			}
			code := params.Get("code")
			if len(code) < 40 {
				t.Fatalf("code %q", code)
			}
			c, err := e.st.ConsumeCode(t.Context(), tt.q.Get("client_id"), secret.HashSecret(code), e.clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			method := ""
			if tt.challenge != "" {
				method = "S256"
			}
			if c.ClientID != tt.q.Get("client_id") || c.Subject != "alice" || c.RedirectURI != tt.redirect ||
				c.Scope != tt.wantScopes || c.CodeChallenge != tt.challenge || c.CodeChallengeMethod != method ||
				len(c.SessionID) < 20 || !c.ExpiresAt.Equal(e.clk.Now().Add(5*time.Minute)) {
				t.Fatalf("stored code %+v", c)
			}
			_, err = e.st.ConsumeCode(t.Context(), tt.q.Get("client_id"), secret.HashSecret(code), e.clk.Now())
			if reused, ok := errors.AsType[*store.CodeReusedError](err); !ok || reused.Code.SessionID != c.SessionID {
				t.Fatalf("replay: %v", err)
			}
		})
	}
	t.Run("codes expire after the code TTL", func(t *testing.T) {
		form, _ := consent(t, b, url.Values{"response_type": {"code"}, "client_id": {"web"}})
		form.Set("decision", "allow")
		params := checkRedirect(t, b.post("/authorize", form).Header.Get("Location"), "https://web.example/cb?tenant=7", false)
		_, err := e.st.ConsumeCode(t.Context(), "web", secret.HashSecret(params.Get("code")), e.clk.Now().Add(5*time.Minute))
		if !errors.Is(err, store.ErrExpired) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("tampered hidden fields are validated again", func(t *testing.T) {
		form, _ := consent(t, b, url.Values{"response_type": {"code"}, "client_id": {"web"}})
		form.Set("decision", "allow")
		form.Set("redirect_uri", "https://evil.example/")
		r := b.post("/authorize", form)
		wantStatus(t, r, http.StatusBadRequest)
		if r.Header.Get("Location") != "" {
			t.Fatal("redirected")
		}
	})
}

func TestAuthorizeImplicitGrant(t *testing.T) {
	e := authEnv(t)
	b := e.login("alice")
	form, _ := consent(t, b, url.Values{"response_type": {"token"}, "client_id": {"spa"}, "state": {"abc"}})
	form.Set("decision", "allow")
	r := b.post("/authorize", form)
	wantStatus(t, r, http.StatusSeeOther)
	params := checkRedirect(t, r.Header.Get("Location"), "https://spa.example/cb", true)
	want := url.Values{"access_token": {"implicit-token"}, "token_type": {"Bearer"}, "expires_in": {"3600"},
		"state": {"abc"}, "scope": {"user"}}
	if params.Encode() != want.Encode() {
		t.Fatalf("fragment %v, want %v", params, want)
	}
	if params.Has("refresh_token") {
		t.Fatal("refresh token in an implicit response")
	}
	if !slices.Equal(e.minter.implicit, []string{"spa alice user"}) {
		t.Fatalf("minted %v", e.minter.implicit)
	}
}

func TestAuthorizeDeny(t *testing.T) {
	e := authEnv(t)
	b := e.login("alice")
	for _, rt := range []string{"code", "token"} {
		t.Run(rt, func(t *testing.T) {
			q := url.Values{"response_type": {rt}, "client_id": {"spa"}, "state": {"d"}}
			if rt == "code" {
				q.Set("code_challenge", challenge(verifier))
				q.Set("code_challenge_method", "S256")
			}
			form, _ := consent(t, b, q)
			form.Set("decision", "deny")
			r := b.post("/authorize", form)
			params := checkRedirect(t, r.Header.Get("Location"), "https://spa.example/cb", rt == "token")
			if params.Get("error") != "access_denied" || params.Get("state") != "d" || params.Has("code") || params.Has("access_token") {
				t.Fatalf("%v", params)
			}
		})
	}
	if len(e.minter.implicit) != 0 {
		t.Fatal("a token was minted")
	}
}

// TestAuthorizeCookiePaths walks the portal login, the authorize login and
// consent, a flash and the logout: every cookie the portal sets has a path
// under the portal or the authorization endpoint, never "/", and the login
// is set (and cleared) on both.
func TestAuthorizeCookiePaths(t *testing.T) {
	const authPath = "/oauth/authorize"
	e := newEnv(t, func(o *Options) { o.AuthorizePath = authPath })
	e.addClient(store.Client{ID: "web", Name: "Web", SecretHash: secret.HashSecret("s"),
		Grants: []string{"authorization_code"}, Scopes: []string{"user"},
		RedirectURIs: []string{"https://web.example/cb"}, Owner: "alice"})
	var all []*http.Cookie
	seen := func(r response) response {
		all = append(all, r.Cookies()...)
		return r
	}
	b := e.browser()
	// /oauth/authorize before sign-in: to the login page and back.
	q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "state": {"s"}}
	r := seen(b.get(authPath + "?" + q.Encode()))
	wantStatus(t, r, http.StatusSeeOther)
	login := r.Header.Get("Location")
	next, _ := url.Parse(login)
	tok := csrfRE.FindStringSubmatch(seen(b.get(login)).body)
	r = seen(b.post("/portal/login", url.Values{"csrf_token": {html.UnescapeString(tok[1])}, "username": {"alice"},
		"password": {testPassword}, "next": {next.Query().Get("next")}}))
	wantStatus(t, r, http.StatusSeeOther)
	var sessionPaths []string
	for _, ck := range r.Cookies() {
		if ck.Name == websession.CookieName {
			sessionPaths = append(sessionPaths, ck.Path)
		}
	}
	slices.Sort(sessionPaths)
	if !slices.Equal(sessionPaths, []string{authPath, "/portal"}) {
		t.Fatalf("login cookie set on %q, want %s and /portal", sessionPaths, authPath)
	}
	// The consent page is reached with the authorize-path cookie alone.
	consentPage := seen(b.get(r.Header.Get("Location")))
	wantStatus(t, consentPage, http.StatusOK)
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(between(consentPage.body, `<main`, `</main>`), -1) {
		form.Set(unescape(m[1]), unescape(m[2]))
	}
	form.Set("decision", "allow")
	r = seen(b.post(authPath, form))
	checkRedirect(t, r.Header.Get("Location"), "https://web.example/cb", false)
	// A portal page, a flash (a new client's secret) and the logout.
	seen(b.get("/portal/"))
	r = seen(b.postForm("/portal/", "/portal/clients", url.Values{"id": {"flash-app"}, "name": {"Flash app"}}))
	if r.StatusCode == http.StatusSeeOther {
		seen(b.get(r.Header.Get("Location")))
	}
	r = seen(b.postForm("/portal/", "/portal/logout", nil))
	wantStatus(t, r, http.StatusSeeOther)
	var cleared []string
	for _, ck := range r.Cookies() {
		if ck.Name == websession.CookieName && ck.MaxAge < 0 {
			cleared = append(cleared, ck.Path)
		}
	}
	slices.Sort(cleared)
	if !slices.Equal(cleared, []string{authPath, "/portal"}) {
		t.Fatalf("logout cleared the login on %q, want %s and /portal", cleared, authPath)
	}
	for _, p := range []string{authPath, "/portal/"} {
		u, _ := url.Parse(e.srv.URL + p)
		for _, ck := range b.c.Jar.Cookies(u) {
			if ck.Name == websession.CookieName {
				t.Fatalf("the login is still sent to %s after logout", p)
			}
		}
	}

	names := map[string]bool{}
	for _, ck := range all {
		names[ck.Name] = true
		if ck.Path != "/portal" && !strings.HasPrefix(ck.Path, "/portal/") && ck.Path != authPath {
			t.Errorf("cookie %s set with Path=%q", ck.Name, ck.Path)
		}
	}
	for _, n := range []string{websession.CookieName, websession.AnonCookieName, websession.FlashCookie} {
		if !names[n] {
			t.Errorf("the walk never set %s (cookies %v)", n, names)
		}
	}
}

func FuzzRedirectURIMatch(f *testing.F) {
	f.Add("https://app.example/cb", "https://app.example/cb")  // exact
	f.Add("https://app.example/cb", "https://app.example/cb/") // trailing slash
	f.Add("https://app.example/cb", "https://APP.example/cb")  // case
	f.Add("https://app.example/cb?x=1", "https://app.example/cb")
	f.Add("https://app.example/cb", "https://app.example/cb%2F..")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, registered, given string) {
		got := matchRedirectURI([]string{registered, "https://other.example/"}, given)
		want := given != "" && (given == registered || given == "https://other.example/")
		if got != want {
			t.Fatalf("match(%q, %q) = %v", registered, given, got)
		}
		// Registered URIs that pass validation stay matchable to themselves.
		if checkRedirectURI(registered) == nil && !matchRedirectURI([]string{registered}, registered) {
			t.Fatalf("%q does not match itself", registered)
		}
	})
}

func FuzzAuthorizeQuery(f *testing.F) {
	f.Add("response_type=code&client_id=web&state=x", false)
	f.Add("response_type=token&client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb&state=%00", true)
	f.Add("response_type=code&client_id=spa&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256", true)
	f.Add("client_id=web&redirect_uri=https%3A%2F%2Fevil.example%2F", true)
	f.Add("client_id=two&redirect_uri=https%3A%2F%2Ftwo.example%2Fb&response_type=code&scope=user%20user", true)
	f.Add("%zz&&;client_id=spa", false)
	f.Add("client_id=spa&client_id=web&response_type=token", true)
	e := authEnv(f)
	// A logged-in browser: its session cookie and CSRF token.
	rec := httptest.NewRecorder()
	sess, err := e.cookies.Login(rec, "alice")
	if err != nil {
		f.Fatal(err)
	}
	cookie := rec.Result().Cookies()[0]
	csrf := e.cookies.SessionCSRF(sess)
	f.Fuzz(func(t *testing.T, raw string, post bool) {
		// Drive the handler directly: thousands of requests a second.
		var r *http.Request
		if post {
			form, _ := url.ParseQuery(raw)
			form.Set("decision", "allow")
			form.Set("csrf_token", csrf)
			r = httptest.NewRequest("POST", "/authorize", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r = httptest.NewRequest("GET", "/authorize", nil)
			r.URL.RawQuery = raw
		}
		r.AddCookie(cookie)
		rec := httptest.NewRecorder()
		e.p.serveAuthorize(rec, r)
		loc := rec.Header().Get("Location")
		if loc == "" {
			return
		}
		if strings.HasPrefix(loc, "/portal/login?") {
			return
		}
		for _, c := range []string{"web", "spa", "two"} {
			cl, err := e.st.GetClient(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range cl.RedirectURIs {
				if loc == u || strings.HasPrefix(loc, u+"?") || strings.HasPrefix(loc, u+"&") || strings.HasPrefix(loc, u+"#") {
					return
				}
			}
		}
		t.Fatalf("redirect to an unregistered URI %q for %q", loc, raw)
	})
}

package attack

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// framingDenied asserts the clickjacking defences of a page.
func framingDenied(t *testing.T, what string, r response) {
	t.Helper()
	if r.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("%s may be framed: X-Frame-Options %q, CSP %q", what, r.header.Get("X-Frame-Options"), r.header.Get("Content-Security-Policy"))
	}
}

// TestAuthorizeAttacks attacks /authorize: open redirects, state
// injection, login CSRF, session fixation, framing.
func TestAuthorizeAttacks(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	const cb = "https://app.example/cb"
	g.createClient("web", "--grant", "authorization_code", "--grant", "implicit", "--redirect-uri", cb, "--scope", "charts")
	g.addUser("alice", "alice password 1")
	base := url.Values{"response_type": {"code"}, "client_id": {"web"}, "state": {"s"}}

	anon := g.browser()
	for _, redirect := range []string{
		"https://evil.example/cb",
		"https://app.example/cb/",
		"https://app.example/cb/../evil",
		"https://app.example/other",
		"https://app.example/cb?x=1",
		"https://app.example/cb#frag",
		"https://app.example/cb?",
		"https://app.example@evil.example/cb",
		"https://evil.example@app.example/cb",
		"https://app.example.evil.example/cb",
		"https://APP.example/cb",
		"HTTPS://app.example/cb",
		"https://app.example/CB",
		"https://app.example:443/cb",
		"http://app.example/cb",
		"https://app.example%2f@evil.example/cb",
		"//evil.example/cb",
		"/cb",
		"javascript:alert(1)//https://app.example/cb",
		" https://app.example/cb",
		"https://app.example/cb\r\nLocation: https://evil.example",
	} {
		t.Run("redirect_uri "+redirect, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = v
			}
			q.Set("redirect_uri", redirect)
			r := g.page(anon, http.MethodGet, "/authorize?"+q.Encode(), nil)
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Errorf("status %d, Location %q", r.status, r.header.Get("Location"))
			}
			if strings.Contains(r.body, `href="`+redirect) {
				t.Error("the error page links to the unregistered redirect URI")
			}
			framingDenied(t, "the authorize error page", r)
		})
	}
	t.Run("redirect_uri given twice", func(t *testing.T) {
		r := g.page(anon, http.MethodGet, "/authorize?"+base.Encode()+"&redirect_uri="+url.QueryEscape(cb)+"&redirect_uri="+url.QueryEscape("https://evil.example/"), nil)
		if r.header.Get("Location") != "" {
			t.Errorf("redirected to %q", r.header.Get("Location"))
		}
	})
	t.Run("unknown client", func(t *testing.T) {
		r := g.page(anon, http.MethodGet, "/authorize?response_type=code&client_id=nobody&redirect_uri="+url.QueryEscape("https://evil.example/"), nil)
		if r.header.Get("Location") != "" || r.status != http.StatusBadRequest {
			t.Errorf("%d, Location %q", r.status, r.header.Get("Location"))
		}
	})

	const evilState = `"><script>alert(1)</script>&code=attacker#frag`
	t.Run("state in an error redirect", func(t *testing.T) {
		// Errors are redirected only after sign-in (before, they are a page).
		signedIn := g.browser()
		g.login(signedIn, "alice", "alice password 1", "")
		q := url.Values{"response_type": {"bogus"}, "client_id": {"web"}, "redirect_uri": {cb}, "state": {evilState}}
		r := g.page(signedIn, http.MethodGet, "/authorize?"+q.Encode(), nil)
		u, err := url.Parse(r.header.Get("Location"))
		if err != nil || r.status/100 != 3 {
			t.Fatalf("%d %q", r.status, r.header.Get("Location"))
		}
		if u.Scheme+"://"+u.Host+u.Path != cb || u.Fragment != "" {
			t.Errorf("redirected to %s", u)
		}
		if got := u.Query(); got.Get("state") != evilState || len(got["code"]) != 0 || len(got["state"]) != 1 {
			t.Errorf("redirect query %v", got)
		}
	})

	t.Run("login without a CSRF token", func(t *testing.T) {
		b := g.browser()
		g.page(b, http.MethodGet, "/portal/login", nil)
		r := g.page(b, http.MethodPost, "/portal/login", url.Values{"username": {"alice"}, "password": {"alice password 1"}})
		if r.status != http.StatusForbidden || r.header.Get("Set-Cookie") != "" && strings.Contains(r.header.Get("Set-Cookie"), "clearance_session=v1") {
			t.Errorf("login CSRF: %d, cookies %q", r.status, r.header.Values("Set-Cookie"))
		}
	})
	t.Run("login with another browser's CSRF token", func(t *testing.T) {
		attacker, victim := g.browser(), g.browser()
		f := hiddenFields(g.page(attacker, http.MethodGet, "/portal/login", nil).body)
		g.page(victim, http.MethodGet, "/portal/login", nil)
		f.Set("username", "alice")
		f.Set("password", "alice password 1")
		if r := g.page(victim, http.MethodPost, "/portal/login", f); r.status != http.StatusForbidden {
			t.Errorf("login with a foreign CSRF token: %d", r.status)
		}
		// Without any cookie at all (a cross-site form post).
		bare := &http.Client{Transport: g.client.Transport, CheckRedirect: g.client.CheckRedirect}
		if r := g.page(bare, http.MethodPost, "/portal/login", f); r.status != http.StatusForbidden {
			t.Errorf("login form posted without cookies: %d", r.status)
		}
	})
	t.Run("login next is never an open redirect", func(t *testing.T) {
		for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example/", "/%2f%2fevil.example",
			"/portal/../..//evil.example", "\t//evil.example", "/portal/\r\nLocation: https://evil.example", "javascript:alert(1)"} {
			b := g.browser()
			loc := g.login(b, "alice", "alice password 1", next)
			u, err := url.Parse(loc)
			if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
				t.Errorf("next %q: redirected to %q", next, loc)
			}
		}
	})
	t.Run("session fixation", func(t *testing.T) {
		b := g.browser()
		portal, _ := url.Parse(g.base + "/portal/")
		planted := &http.Cookie{Name: "clearance_session", Value: "v1.fixed.9999999999.YWxpY2U.AAAA", Path: "/"}
		b.Jar.SetCookies(portal, []*http.Cookie{planted})
		if r := g.page(b, http.MethodGet, "/portal/", nil); r.status == http.StatusOK && strings.Contains(r.body, "alice") {
			t.Fatal("a planted unsigned session cookie logs in")
		}
		g.login(b, "alice", "alice password 1", "")
		// The first one is what the browser sends first (the longest path)
		// and what the gateway reads.
		var after string
		for _, c := range b.Jar.Cookies(portal) {
			if c.Name == "clearance_session" {
				after = c.Value
				break
			}
		}
		if after == "" || after == planted.Value {
			t.Errorf("session cookie after login %q", after)
		}
		b2 := g.browser()
		g.login(b2, "alice", "alice password 1", "")
		for _, c := range b2.Jar.Cookies(portal) {
			if c.Name == "clearance_session" && c.Value == after {
				t.Error("two logins got the same session cookie")
			}
		}
	})
	t.Run("session cookie attributes", func(t *testing.T) {
		b := g.browser()
		f := hiddenFields(g.page(b, http.MethodGet, "/portal/login", nil).body)
		f.Set("username", "alice")
		f.Set("password", "alice password 1")
		r := g.page(b, http.MethodPost, "/portal/login", f)
		for _, sc := range r.header.Values("Set-Cookie") {
			if strings.HasPrefix(sc, "clearance_session=") && (!strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax")) {
				t.Errorf("session cookie %q", sc)
			}
		}
	})

	b := g.browser()
	g.login(b, "alice", "alice password 1", "")
	t.Run("state on the consent page", func(t *testing.T) {
		q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {cb}, "state": {evilState}}
		r := g.page(b, http.MethodGet, "/authorize?"+q.Encode(), nil)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if strings.Contains(r.body, "<script>alert(1)") {
			t.Error("state is rendered unescaped")
		}
		framingDenied(t, "the consent page", r)
		if got := hiddenFields(r.body).Get("state"); got != evilState {
			t.Errorf("state carried as %q", got)
		}
	})
	t.Run("consent without CSRF token", func(t *testing.T) {
		f := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {cb}, "state": {"s"}, "decision": {"allow"}}
		r := g.page(b, http.MethodPost, "/authorize", f)
		if r.status != http.StatusForbidden || strings.Contains(r.header.Get("Location"), "code=") {
			t.Errorf("consent without CSRF: %d %q", r.status, r.header.Get("Location"))
		}
	})
	t.Run("consent by GET is not consent", func(t *testing.T) {
		q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {cb}, "state": {"s"}, "decision": {"allow"}}
		r := g.page(b, http.MethodGet, "/authorize?"+q.Encode(), nil)
		if strings.Contains(r.header.Get("Location"), "code=") {
			t.Error("a GET with decision=allow issued a code")
		}
	})
	t.Run("implicit token only in the fragment", func(t *testing.T) {
		u := g.authorize(b, url.Values{"response_type": {"token"}, "client_id": {"web"}, "redirect_uri": {cb}, "state": {"s"}})
		frag, _ := url.ParseQuery(u.Fragment)
		if frag.Get("access_token") == "" || u.RawQuery != "" || frag.Get("refresh_token") != "" {
			t.Errorf("implicit redirect %s", u)
		}
	})
}

// TestPortalAttacks attacks the developer portal as another user and as
// a cross-site page.
func TestPortalAttacks(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	g.addUser("alice", "alice password 1")
	g.addUser("mallory", "mallory password 1")
	g.createClient("operator-made", "--grant", "client_credentials", "--scope", "charts")

	alice := g.browser()
	g.login(alice, "alice", "alice password 1", "")
	list := g.page(alice, http.MethodGet, "/portal/", nil)
	framingDenied(t, "the client list", list)
	csrfAlice := hiddenFields(list.body).Get("csrf_token")
	const xss = `<script>alert("xss")</script><img src=x onerror=alert(1)>`
	r := g.page(alice, http.MethodPost, "/portal/clients", url.Values{"csrf_token": {csrfAlice}, "id": {"alice-app"}, "name": {xss}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create client: %d %s", r.status, r.body)
	}
	clientPage := g.page(alice, http.MethodGet, "/portal/clients/alice-app", nil)
	framingDenied(t, "the client page", clientPage)
	for what, body := range map[string]string{"list": g.page(alice, http.MethodGet, "/portal/", nil).body, "client page": clientPage.body} {
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("the client name is rendered unescaped on the %s", what)
		}
	}
	r = g.page(alice, http.MethodPost, "/portal/clients/alice-app/uris", url.Values{"csrf_token": {csrfAlice},
		"redirect_uris": {"javascript:alert(1)\ndata:text/html,<script>alert(1)</script>"}, "allowed_origins": {""}})
	if r.status == http.StatusSeeOther || r.status == http.StatusOK && !strings.Contains(r.body, "scheme") {
		t.Errorf("script redirect URIs accepted: %d", r.status)
	}
	if strings.Contains(r.body, "<script>alert(1)") {
		t.Error("a refused redirect URI is echoed unescaped")
	}
	r = g.page(alice, http.MethodPost, "/portal/clients/alice-app/uris", url.Values{"csrf_token": {csrfAlice},
		"redirect_uris": {`https://ok.example/cb?x="><script>alert(1)</script>`}, "allowed_origins": {""}})
	if page := g.page(alice, http.MethodGet, "/portal/clients/alice-app", nil); strings.Contains(page.body+r.body, "<script>alert(1)") {
		t.Error("a redirect URI is rendered unescaped")
	}

	posts := map[string]url.Values{
		"/portal/clients":                             {"id": {"csrf-made"}, "name": {"x"}},
		"/portal/clients/alice-app/grants":            {"grant_client_credentials": {"on"}},
		"/portal/clients/alice-app/uris":              {"redirect_uris": {"https://evil.example/cb"}, "allowed_origins": {"https://evil.example"}},
		"/portal/clients/alice-app/tokens":            {},
		"/portal/clients/alice-app/sessions/x/revoke": {},
		"/portal/clients/alice-app/delete":            {"confirm": {"yes"}},
		"/portal/logout":                              {},
	}
	t.Run("every POST needs the CSRF token", func(t *testing.T) {
		mallory := g.browser()
		g.login(mallory, "mallory", "mallory password 1", "")
		csrfMallory := hiddenFields(g.page(mallory, http.MethodGet, "/portal/", nil).body).Get("csrf_token")
		for path, f := range posts {
			for name, token := range map[string]string{"none": "", "mallory's": csrfMallory, "garbage": "AAAA.BBBB"} {
				form := url.Values{}
				for k, v := range f {
					form[k] = v
				}
				if token != "" {
					form.Set("csrf_token", token)
				}
				r := g.page(alice, http.MethodPost, path, form)
				if r.status != http.StatusForbidden {
					t.Errorf("%s with %s CSRF token: %d", path, name, r.status)
				}
			}
		}
		if r := g.page(alice, http.MethodGet, "/portal/clients/alice-app", nil); r.status != http.StatusOK {
			t.Fatalf("alice's client after the CSRF attempts: %d", r.status)
		}
		if r := g.page(alice, http.MethodGet, "/portal/clients/csrf-made", nil); r.status != http.StatusNotFound {
			t.Errorf("a client was created without a CSRF token: %d", r.status)
		}
	})
	t.Run("another user's client is 404", func(t *testing.T) {
		mallory := g.browser()
		g.login(mallory, "mallory", "mallory password 1", "")
		csrfMallory := hiddenFields(g.page(mallory, http.MethodGet, "/portal/", nil).body).Get("csrf_token")
		for _, id := range []string{"alice-app", "operator-made", "ALICE-APP", "alice-app%20", "..%2falice-app"} {
			if r := g.page(mallory, http.MethodGet, "/portal/clients/"+id, nil); r.status != http.StatusNotFound {
				t.Errorf("GET %s as mallory: %d", id, r.status)
			} else if strings.Contains(r.body, "alice") && id == "alice-app" {
				t.Error("the 404 page names the owner")
			}
		}
		for path, f := range posts {
			if !strings.HasPrefix(path, "/portal/clients/alice-app/") {
				continue
			}
			form := url.Values{"csrf_token": {csrfMallory}}
			for k, v := range f {
				form[k] = v
			}
			if r := g.page(mallory, http.MethodPost, path, form); r.status != http.StatusNotFound {
				t.Errorf("%s as mallory: %d", path, r.status)
			}
		}
		if r := g.page(alice, http.MethodGet, "/portal/clients/alice-app", nil); r.status != http.StatusOK ||
			strings.Contains(r.body, "evil.example") {
			t.Errorf("alice's client changed by mallory: %d", r.status)
		}
	})
	t.Run("pages are framing-protected when signed out", func(t *testing.T) {
		b := g.browser()
		framingDenied(t, "the login page", g.page(b, http.MethodGet, "/portal/login", nil))
		framingDenied(t, "a 404 page", g.page(b, http.MethodGet, "/portal/nothing", nil))
	})
}

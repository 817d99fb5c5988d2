package portal

import (
	"encoding/json"
	"net/http"
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

func TestNewRefusesFirstPartyGrants(t *testing.T) {
	codec, _ := websession.New(make([]byte, 32), websession.Options{})
	for _, g := range []string{"password", "admin", "no_such_grant"} {
		if _, err := New(nil, Options{Cookies: codec}); err == nil {
			t.Fatal("nil store accepted")
		}
		if _, err := New(dummyStore{}, Options{Cookies: codec, Grants: []string{g}}); err == nil {
			t.Errorf("grant %q accepted", g)
		}
	}
}

// dummyStore satisfies Store for constructor tests; it is never called.
type dummyStore struct{ Store }

func TestLogin(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		user, pw string
		next     string
		csrf     bool
		status   int
		location string
	}{
		{"right password goes to the portal", "alice", testPassword, "", true, 303, "/portal/"},
		{"right password goes to next", "alice", testPassword, "/portal/clients/x", true, 303, "/portal/clients/x"},
		{"next may be the authorize endpoint", "alice", testPassword, "/authorize?client_id=a", true, 303, "/authorize?client_id=a"},
		{"an absolute next is ignored", "alice", testPassword, "https://evil.example/", true, 303, "/portal/"},
		{"a scheme-relative next is ignored", "alice", testPassword, "//evil.example/portal/", true, 303, "/portal/"},
		{"a next outside the portal is ignored", "alice", testPassword, "/admin/api", true, 303, "/portal/"},
		{"wrong password", "alice", "nope", "", true, 401, ""},
		{"unknown user", "mallory", testPassword, "", true, 401, ""},
		{"empty password", "alice", "", "", true, 401, ""},
		{"no CSRF token", "alice", testPassword, "", false, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.browser()
			form := url.Values{"username": {tt.user}, "password": {tt.pw}, "next": {tt.next}}
			var r response
			if tt.csrf {
				r = b.postForm("/portal/login", "/portal/login", form)
			} else {
				b.get("/portal/login") // has the pre-session cookie, not the token
				r = b.post("/portal/login", form)
			}
			wantStatus(t, r, tt.status)
			if got := r.Header.Get("Location"); got != tt.location {
				t.Errorf("Location = %q, want %q", got, tt.location)
			}
			loggedIn := b.get("/portal/").StatusCode == http.StatusOK
			if loggedIn != (tt.status == 303) {
				t.Errorf("logged in = %v", loggedIn)
			}
		})
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	bad := url.Values{"username": {"alice"}, "password": {"guess"}}
	for range websession.DefaultMaxFailures {
		wantStatus(t, b.postForm("/portal/login", "/portal/login", bad), http.StatusUnauthorized)
	}
	good := url.Values{"username": {"alice"}, "password": {testPassword}}
	r := b.postForm("/portal/login", "/portal/login", good)
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many failed sign-in attempts") {
		t.Fatalf("throttled answer lacks Retry-After or message: %v", r.Header)
	}
	t.Run("the address is throttled for other users too", func(t *testing.T) {
		r := b.postForm("/portal/login", "/portal/login", url.Values{"username": {"bob"}, "password": {testPassword}})
		wantStatus(t, r, http.StatusTooManyRequests)
	})
	t.Run("after the window the right password works", func(t *testing.T) {
		e.clk.Advance(websession.DefaultWindow)
		wantStatus(t, b.postForm("/portal/login", "/portal/login", good), http.StatusSeeOther)
	})
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	b := e.login("alice")
	t.Run("without CSRF it is refused", func(t *testing.T) {
		wantStatus(t, b.post("/portal/logout", nil), http.StatusForbidden)
		wantStatus(t, b.get("/portal/"), http.StatusOK)
	})
	r := b.postForm("/portal/", "/portal/logout", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if r := b.get("/portal/"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/portal/login") {
		t.Fatalf("after logout: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestPagesNeedLogin(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "app", Name: "App", Owner: "alice"})
	b := e.browser()
	for _, path := range []string{"/portal/", "/portal/clients/app"} {
		r := b.get(path)
		wantStatus(t, r, http.StatusSeeOther)
		if want := "/portal/login?next=" + url.QueryEscape(path); r.Header.Get("Location") != want {
			t.Errorf("%s: Location %q, want %q", path, r.Header.Get("Location"), want)
		}
	}
	tok := b.csrf("/portal/login")
	r := b.post("/portal/clients", url.Values{"csrf_token": {tok}, "id": {"x"}, "name": {"X"}})
	wantStatus(t, r, http.StatusSeeOther)
	if _, err := e.st.GetClient(t.Context(), "x"); err == nil {
		t.Fatal("a client was created without a login")
	}
}

func TestPostsWithoutCSRFAreRefused(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "app", Name: "App", Owner: "alice", Grants: []string{"client_credentials"},
		SecretHash: secret.HashSecret("s"), RedirectURIs: []string{"https://app.example/cb"}})
	e.st.CreateSession(t.Context(), store.Session{ID: "s1", ClientID: "app", Subject: "alice", Kind: store.KindA2A,
		CreatedAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Hour)}, nil)
	b := e.login("alice")
	posts := []struct {
		path string
		form url.Values
	}{
		{"/portal/clients", url.Values{"id": {"new"}, "name": {"New"}}},
		{"/portal/clients/app/grants", url.Values{"grant_client_credentials": {"off"}}},
		{"/portal/clients/app/uris", url.Values{"redirect_uris": {"https://evil.example/cb"}}},
		{"/portal/clients/app/tokens", nil},
		{"/portal/clients/app/sessions/s1/revoke", nil},
		{"/portal/clients/app/delete", url.Values{"confirm": {"yes"}}},
		{"/portal/logout", nil},
	}
	for _, tokCase := range []struct{ name, token string }{
		{"missing token", ""},
		{"forged token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"another session's token", e.login("alice").csrf("/portal/")},
	} {
		for _, p := range posts {
			t.Run(tokCase.name+" "+p.path, func(t *testing.T) {
				form := url.Values{}
				for k, v := range p.form {
					form[k] = v
				}
				if tokCase.token != "" {
					form.Set("csrf_token", tokCase.token)
				}
				wantStatus(t, b.post(p.path, form), http.StatusForbidden)
			})
		}
	}
	c := e.client("app")
	if !slices.Equal(c.Grants, []string{"client_credentials"}) || !slices.Equal(c.RedirectURIs, []string{"https://app.example/cb"}) {
		t.Fatalf("client changed: %+v", c)
	}
	if s, _ := e.st.GetSession(t.Context(), "s1"); !s.RevokedAt.IsZero() {
		t.Fatal("session revoked")
	}
	if _, err := e.st.GetClient(t.Context(), "new"); err == nil {
		t.Fatal("client created")
	}
	if len(e.revoker.ids()) != 0 || e.minter.n != 0 {
		t.Fatal("a token was minted or a session revoked")
	}
}

func TestAnotherUsersClientIsNotFound(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "bobs app", Name: "Bob's app", Owner: "bob", SecretHash: secret.HashSecret("s"),
		RedirectURIs: []string{"https://bob.example/cb"}})
	e.addClient(store.Client{ID: "operator", Name: "Operator client"}) // no owner
	e.st.CreateSession(t.Context(), store.Session{ID: "bs", ClientID: "bobs app", Subject: "bob", Kind: store.KindA2A,
		CreatedAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Hour)}, nil)
	alice := e.login("alice")
	for _, id := range []string{"bobs%20app", "operator", "nobody"} {
		t.Run("GET "+id, func(t *testing.T) {
			r := alice.get("/portal/clients/" + id)
			wantStatus(t, r, http.StatusNotFound)
			if strings.Contains(r.body, "Bob&#39;s app") || strings.Contains(r.body, "bob.example") {
				t.Fatal("the 404 page shows the client")
			}
		})
		for _, action := range []string{"grants", "uris", "tokens", "delete", "sessions/bs/revoke"} {
			t.Run("POST "+id+" "+action, func(t *testing.T) {
				r := alice.postForm("/portal/", "/portal/clients/"+id+"/"+action,
					url.Values{"confirm": {"yes"}, "grant_implicit": {"on"}, "redirect_uris": {"https://alice.example/cb"}})
				wantStatus(t, r, http.StatusNotFound)
			})
		}
	}
	c := e.client("bobs app")
	if len(c.Grants) != 0 || !slices.Equal(c.RedirectURIs, []string{"https://bob.example/cb"}) {
		t.Fatalf("bob's client changed: %+v", c)
	}
	if s, _ := e.st.GetSession(t.Context(), "bs"); !s.RevokedAt.IsZero() {
		t.Fatal("bob's session was revoked")
	}
	if r := alice.get("/portal/"); strings.Contains(r.body, "bobs app") {
		t.Fatal("alice's list shows bob's client")
	}
	t.Run("a session of another client through one's own client", func(t *testing.T) {
		e.addClient(store.Client{ID: "alices", Name: "Alice's", Owner: "alice"})
		r := alice.postForm("/portal/", "/portal/clients/alices/sessions/bs/revoke", nil)
		wantStatus(t, r, http.StatusNotFound)
		if s, _ := e.st.GetSession(t.Context(), "bs"); !s.RevokedAt.IsZero() {
			t.Fatal("bob's session was revoked")
		}
	})
}

func TestCreateClientShowsSecretOnce(t *testing.T) {
	e := newEnv(t)
	b := e.login("alice")
	r := b.postForm("/portal/", "/portal/clients", url.Values{"id": {"  flight planner 2 "}, "name": {"Flight <planner>"},
		"scope": {"query_mapdata", "user"}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/portal/clients/flight%20planner%202" {
		t.Fatalf("Location %q", loc)
	}
	if strings.Contains(r.body, "secret") {
		t.Fatal("the redirect carries the secret")
	}
	page := b.get("/portal/clients/flight%20planner%202")
	wantStatus(t, page, http.StatusOK)
	if page.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", page.Header.Get("Cache-Control"))
	}
	sec := between(page.body, `<pre class="secret" id="secret">`, `</pre>`)
	if sec == "" {
		t.Fatalf("no secret on the page:\n%s", page.body)
	}
	if !strings.Contains(page.body, "Flight &lt;planner&gt;") {
		t.Error("the name is not escaped")
	}
	c := e.client("flight planner 2")
	if !secret.EqualHash(c.SecretHash, secret.HashSecret(sec)) {
		t.Fatal("the shown secret does not match the stored hash")
	}
	if c.Owner != "alice" || !c.PortalMade || c.FirstParty || c.Name != "Flight <planner>" || len(c.Grants) != 0 ||
		!slices.Equal(c.Scopes, []string{"user", "query_mapdata"}) {
		t.Fatalf("client %+v", c)
	}
	again := b.get("/portal/clients/flight%20planner%202")
	wantStatus(t, again, http.StatusOK)
	if strings.Contains(again.body, sec) || strings.Contains(again.body, `id="secret"`) {
		t.Fatal("the secret is shown again on reload")
	}
	if list := b.get("/portal/"); strings.Contains(list.body, sec) || !strings.Contains(list.body, "flight planner 2") {
		t.Fatal("list page shows the secret or lacks the client")
	}
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}

func TestCreateClientValidation(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "taken", Name: "Bob's", Owner: "bob"})
	b := e.login("alice")
	tests := []struct {
		name, id, clientName string
		status               int
	}{
		{"upper case", "MyApp", "x", 400},
		{"punctuation", "my_app!", "x", 400},
		{"slash", "a/b", "x", 400},
		{"non-ASCII", "café", "x", 400},
		{"empty", "   ", "x", 400},
		{"too long", strings.Repeat("a", 65), "x", 400},
		{"no name", "ok-id", " ", 400},
		{"name too long", "ok-id", strings.Repeat("n", 101), 400},
		{"control character in name", "ok-id", "a\x01b", 400},
		{"taken identifier", "taken", "Mine", 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.postForm("/portal/", "/portal/clients", url.Values{"id": {tt.id}, "name": {tt.clientName}})
			wantStatus(t, r, tt.status)
			if !strings.Contains(r.body, `class="alert alert-error"`) {
				t.Error("no error message")
			}
		})
	}
	cs, _ := e.st.ListClients(t.Context(), "alice")
	if len(cs) != 0 {
		t.Fatalf("clients created: %+v", cs)
	}
	if c := e.client("taken"); c.Owner != "bob" {
		t.Fatal("the taken client changed hands")
	}
	t.Run("64 characters with dashes and spaces", func(t *testing.T) {
		id := "a-" + strings.Repeat("b c", 20) + strings.Repeat("9", 2)
		r := b.postForm("/portal/", "/portal/clients", url.Values{"id": {id}, "name": {"Long"}})
		wantStatus(t, r, http.StatusSeeOther)
		e.client(id)
	})
}

func TestGrantSelects(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "app", Name: "App", Owner: "alice", SecretHash: secret.HashSecret("s"),
		Grants: []string{"password"}}) // an operator-set grant the portal does not offer
	e.addClient(store.Client{ID: "spa", Name: "SPA", Owner: "alice"}) // public: no secret
	b := e.login("alice")

	t.Run("the script's JSON request saves one select", func(t *testing.T) {
		tok := b.csrf("/portal/clients/app")
		req, _ := http.NewRequest("POST", e.srv.URL+"/portal/clients/app/grants",
			strings.NewReader(url.Values{"grant_authorization_code": {"on"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set(websession.CSRFHeader, tok)
		r := b.do(req)
		wantStatus(t, r, http.StatusOK)
		var got struct {
			ClientID string   `json:"client_id"`
			Grants   []string `json:"grants"`
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("not JSON: %v %q", err, r.body)
		}
		want := []string{"password", "authorization_code"}
		if !slices.Equal(got.Grants, want) || !slices.Equal(e.client("app").Grants, want) {
			t.Fatalf("grants %v, stored %v", got.Grants, e.client("app").Grants)
		}
	})
	t.Run("the JSON request without a token gets JSON 403", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/portal/clients/app/grants",
			strings.NewReader(url.Values{"grant_implicit": {"on"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		r := b.do(req)
		wantStatus(t, r, http.StatusForbidden)
		if !strings.Contains(r.body, `"error"`) || slices.Contains(e.client("app").Grants, "implicit") {
			t.Fatalf("%q", r.body)
		}
	})
	t.Run("the form fallback saves every select and redirects", func(t *testing.T) {
		r := b.postForm("/portal/clients/app", "/portal/clients/app/grants", url.Values{
			"grant_client_credentials": {"on"}, "grant_authorization_code": {"off"},
			"grant_refresh_token": {"on"}, "grant_implicit": {"off"},
			"grant_password": {"off"}, "grant_admin": {"on"}, // not offered: ignored
		})
		wantStatus(t, r, http.StatusSeeOther)
		if r.Header.Get("Location") != "/portal/clients/app?saved=grants" {
			t.Fatalf("Location %q", r.Header.Get("Location"))
		}
		want := []string{"password", "client_credentials", "refresh_token"}
		if got := e.client("app").Grants; !slices.Equal(got, want) {
			t.Fatalf("grants %v, want %v", got, want)
		}
		page := b.get(r.Header.Get("Location"))
		enabledRE := regexp.MustCompile(`id="grant-client_credentials"[^>]*>\s*<option value="on" selected>`)
		if !strings.Contains(page.body, "Grants saved.") || !enabledRE.MatchString(page.body) {
			t.Fatalf("the page does not show the saved selects:\n%s", page.body)
		}
	})
	t.Run("a bad value is refused", func(t *testing.T) {
		r := b.postForm("/portal/clients/app", "/portal/clients/app/grants", url.Values{"grant_implicit": {"maybe"}})
		wantStatus(t, r, http.StatusBadRequest)
	})
	t.Run("a public client cannot enable client_credentials", func(t *testing.T) {
		r := b.postForm("/portal/clients/spa", "/portal/clients/spa/grants", url.Values{"grant_client_credentials": {"on"}})
		wantStatus(t, r, http.StatusBadRequest)
		if len(e.client("spa").Grants) != 0 {
			t.Fatal("enabled")
		}
	})
}

func TestRedirectURIsAndOrigins(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "app", Name: "App", Owner: "alice", RedirectURIs: []string{"https://old.example/cb"}})
	b := e.login("alice")
	tests := []struct {
		name        string
		uris        string
		origins     string
		ok          bool
		wantURIs    []string
		wantOrigins []string
	}{
		{"several of each, blank lines and duplicates dropped",
			"https://app.example/cb\r\n\r\n  com.example.app:/oauth  \nhttp://127.0.0.1:8765/cb?x=1\nhttps://app.example/cb\n",
			"https://app.example\nhttp://localhost:3000/\nHTTPS://APP.example:443\n", true,
			[]string{"https://app.example/cb", "com.example.app:/oauth", "http://127.0.0.1:8765/cb?x=1"},
			[]string{"https://app.example", "http://localhost:3000"}},
		{"both empty clears them", "", "", true, []string{}, []string{}},
		{"relative redirect URI", "/callback", "", false, nil, nil},
		{"redirect URI with a fragment", "https://app.example/cb#x", "", false, nil, nil},
		{"redirect URI with an empty fragment", "https://app.example/cb#", "", false, nil, nil},
		{"http redirect URI without a host", "https:///cb", "", false, nil, nil},
		{"javascript redirect URI", "javascript:alert(1)", "", false, nil, nil},
		{"redirect URI with user info", "https://u:p@app.example/cb", "", false, nil, nil},
		{"redirect URI with a space", "https://app.example/c b", "", false, nil, nil},
		{"origin with a path", "", "https://app.example/app", false, nil, nil},
		{"origin with a query", "", "https://app.example?x", false, nil, nil},
		{"origin without a scheme", "", "app.example", false, nil, nil},
		{"ftp origin", "", "ftp://app.example", false, nil, nil},
		{"wildcard origin", "", "*", false, nil, nil},
		{"origin with a bad port", "", "https://app.example:99999", false, nil, nil},
		{"too many redirect URIs", strings.Repeat("https://a.example/x\n", 1) + manyURIs(21), "", false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.client("app")
			r := b.postForm("/portal/clients/app", "/portal/clients/app/uris",
				url.Values{"redirect_uris": {tt.uris}, "allowed_origins": {tt.origins}})
			if !tt.ok {
				wantStatus(t, r, http.StatusBadRequest)
				if !strings.Contains(r.body, `id="errors"`) {
					t.Error("no error shown")
				}
				if after := e.client("app"); !slices.Equal(after.RedirectURIs, before.RedirectURIs) {
					t.Fatal("stored anyway")
				}
				return
			}
			wantStatus(t, r, http.StatusSeeOther)
			c := e.client("app")
			if !slices.Equal(c.RedirectURIs, tt.wantURIs) || !slices.Equal(c.AllowedOrigins, tt.wantOrigins) {
				t.Fatalf("stored %q %q", c.RedirectURIs, c.AllowedOrigins)
			}
		})
	}
}

func manyURIs(n int) string {
	var sb strings.Builder
	for i := range n {
		sb.WriteString("https://app.example/cb")
		sb.WriteString(strings.Repeat("x", i))
		sb.WriteString("\n")
	}
	return sb.String()
}

func TestCreateTokenShowsItOnce(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "app", Name: "App", Owner: "alice", SecretHash: secret.HashSecret("s"), Grants: []string{"a2a"}})
	b := e.login("alice")
	if strings.Contains(b.get("/portal/clients/app").body, `id="a2a-note"`) {
		t.Error("the form says it turns on a grant the client has")
	}
	r := b.postForm("/portal/clients/app", "/portal/clients/app/tokens", nil)
	wantStatus(t, r, http.StatusSeeOther)
	page := b.get("/portal/clients/app")
	if got := between(page.body, `<pre class="secret" id="token">`, `</pre>`); got != "a2a-token-1" {
		t.Fatalf("token shown %q", got)
	}
	if !strings.Contains(page.body, "a2a-session-1") {
		t.Fatal("the token's session is not listed")
	}
	if again := b.get("/portal/clients/app"); strings.Contains(again.body, "a2a-token-1") {
		t.Fatal("the token is shown again")
	}
	t.Run("a client without the a2a grant gets it, as the form says", func(t *testing.T) {
		e.addClient(store.Client{ID: "backend", Name: "Backend", Owner: "alice", SecretHash: secret.HashSecret("s"),
			Grants: []string{"client_credentials"}})
		before := b.get("/portal/clients/backend").body
		if !strings.Contains(before, `id="a2a-note"`) || !strings.Contains(before, "creating a token turns it on") {
			t.Fatal("the Create token form does not say it turns the a2a grant on")
		}
		if !regexp.MustCompile(`id="grant-a2a"[^>]*>\s*<option value="on">Enabled</option>\s*<option value="off" selected>`).MatchString(before) {
			t.Fatal("no disabled a2a grant select")
		}
		wantStatus(t, b.postForm("/portal/clients/backend", "/portal/clients/backend/tokens", nil), http.StatusSeeOther)
		if g := e.client("backend").Grants; !slices.Equal(g, []string{"client_credentials", "a2a"}) {
			t.Fatalf("stored grants %v, want the a2a grant turned on", g)
		}
		after := b.get("/portal/clients/backend").body
		if between(after, `<pre class="secret" id="token">`, `</pre>`) != "a2a-token-2" {
			t.Fatal("no token shown")
		}
		if strings.Contains(after, `id="a2a-note"`) || !regexp.MustCompile(`id="grant-a2a"[^>]*>\s*<option value="on" selected>`).MatchString(after) {
			t.Fatal("the a2a grant does not show as enabled")
		}
	})
	t.Run("a public client gets no token and no grant", func(t *testing.T) {
		e.addClient(store.Client{ID: "spa", Name: "SPA", Owner: "alice", Grants: []string{"authorization_code"}})
		page := b.get("/portal/clients/spa").body
		if strings.Contains(page, `id="create-token"`) || !strings.Contains(page, `id="a2a-public"`) {
			t.Fatal("a public client is offered Create token")
		}
		wantStatus(t, b.postForm("/portal/clients/spa", "/portal/clients/spa/tokens", nil), http.StatusBadRequest)
		if g := e.client("spa").Grants; !slices.Equal(g, []string{"authorization_code"}) {
			t.Fatalf("stored grants %v", g)
		}
	})
	t.Run("without a minter there is no button and no endpoint", func(t *testing.T) {
		e2 := newEnv(t, func(o *Options) { o.Minter = nil })
		e2.addClient(store.Client{ID: "app", Name: "App", Owner: "alice"})
		b2 := e2.login("alice")
		if strings.Contains(b2.get("/portal/clients/app").body, "create-token") {
			t.Fatal("button shown")
		}
		wantStatus(t, b2.postForm("/portal/clients/app", "/portal/clients/app/tokens", nil), http.StatusNotFound)
	})
}

func TestDeleteSession(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "app", Name: "App", Owner: "alice"})
	now := e.clk.Now()
	for _, id := range []string{"s1", "s2"} {
		e.st.CreateSession(t.Context(), store.Session{ID: id, ClientID: "app", Subject: "alice", Scope: "user",
			Kind: store.KindRefresh, CreatedAt: now, ExpiresAt: now.Add(48 * time.Hour)}, nil)
	}
	b := e.login("alice")
	page := b.get("/portal/clients/app")
	if !strings.Contains(page.body, `data-session="s1"`) || !strings.Contains(page.body, "2026-03-03 12:00 UTC") {
		t.Fatal("sessions table lacks a session or its expiry")
	}
	r := b.postForm("/portal/clients/app", "/portal/clients/app/sessions/s1/revoke", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if !slices.Equal(e.revoker.ids(), []string{"s1"}) {
		t.Fatalf("revoked %v", e.revoker.ids())
	}
	page = b.get("/portal/clients/app")
	if strings.Contains(page.body, `data-session="s1"`) || !strings.Contains(page.body, `data-session="s2"`) {
		t.Fatal("the sessions table is wrong after the delete")
	}
	wantStatus(t, b.postForm("/portal/clients/app", "/portal/clients/app/sessions/nope/revoke", nil), http.StatusNotFound)
}

func TestDeleteClient(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "app", Name: "App", Owner: "alice"})
	now := e.clk.Now()
	e.st.CreateSession(t.Context(), store.Session{ID: "s1", ClientID: "app", Subject: "alice", Kind: store.KindA2A,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, nil)
	b := e.login("alice")
	t.Run("without the confirm box nothing happens", func(t *testing.T) {
		wantStatus(t, b.postForm("/portal/clients/app", "/portal/clients/app/delete", nil), http.StatusBadRequest)
		e.client("app")
	})
	r := b.postForm("/portal/clients/app", "/portal/clients/app/delete", url.Values{"confirm": {"yes"}})
	wantStatus(t, r, http.StatusSeeOther)
	if _, err := e.st.GetClient(t.Context(), "app"); err == nil {
		t.Fatal("client still there")
	}
	if !slices.Equal(e.revoker.deletedIDs(), []string{"app"}) {
		t.Fatalf("clients deleted through the revoker: %v", e.revoker.deletedIDs())
	}
	if list := b.get(r.Header.Get("Location")); !strings.Contains(list.body, "was deleted") {
		t.Fatal("no notice")
	}
	wantStatus(t, b.get("/portal/clients/app"), http.StatusNotFound)
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "app", Name: "App", Owner: "alice"})
	b := e.login("alice")
	for _, path := range []string{"/portal/login", "/portal/", "/portal/clients/app", "/portal/nothing"} {
		t.Run(path, func(t *testing.T) {
			r := b.get(path)
			h := r.Header
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") ||
				strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP %q", csp)
			}
			if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") == "" || h.Get("Cache-Control") != "no-store" ||
				h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", h)
			}
			if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " onclick=") || strings.Contains(r.body, "style=") {
				t.Error("inline script or style on the page")
			}
		})
	}
	t.Run("assets", func(t *testing.T) {
		for name, ctype := range map[string]string{"portal.css": "text/css", "portal.js": "text/javascript"} {
			r := b.get(e.p.assets[name].url)
			wantStatus(t, r, http.StatusOK)
			if !strings.HasPrefix(r.Header.Get("Content-Type"), ctype) || len(r.body) < 100 {
				t.Errorf("%s: %q, %d bytes", name, r.Header.Get("Content-Type"), len(r.body))
			}
		}
		wantStatus(t, b.get("/portal/assets/nope.js"), http.StatusNotFound)
	})
}

func TestSessionCookieIsSecureForHTTPSIssuer(t *testing.T) {
	codec, _ := websession.New(make([]byte, 32), websession.Options{Secure: true})
	e := newEnv(t, func(o *Options) { o.Cookies = codec })
	// The jar would not send Secure cookies over plain HTTP: carry them by hand.
	b := e.browser()
	login := b.get("/portal/login")
	tok := csrfRE.FindStringSubmatch(login.body)[1]
	req, _ := http.NewRequest("POST", e.srv.URL+"/portal/login",
		strings.NewReader(url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range login.Cookies() {
		if !ck.Secure {
			t.Fatalf("pre-session cookie %+v is not Secure", ck)
		}
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	r := b.do(req)
	wantStatus(t, r, http.StatusSeeOther)
	var found bool
	for _, ck := range r.Cookies() {
		if ck.Name == websession.CookieName {
			found = true
			if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				t.Fatalf("cookie %+v", ck)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie")
	}
}

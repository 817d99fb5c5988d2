package portal

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
)

// scopeBoxesOn returns the scope checkboxes of a page and which are ticked.
func scopeBoxesOn(body string) (all, checked []string) {
	for _, part := range strings.Split(body, `<input type="checkbox" name="scope" value="`)[1:] {
		name, rest, _ := strings.Cut(part, `"`)
		tag, _, _ := strings.Cut(rest, ">")
		all = append(all, name)
		if strings.Contains(tag, "checked") {
			checked = append(checked, name)
		}
	}
	return all, checked
}

func (e *env) entitle(user string, scopes ...string) {
	e.t.Helper()
	u, err := e.st.GetUser(e.t.Context(), user)
	if err != nil {
		e.t.Fatal(err)
	}
	u.Scopes = scopes
	if err := e.st.UpdateUser(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
}

func TestNewClientScopesAreLimitedToTheEntitlement(t *testing.T) {
	e := newEnv(t)
	e.entitle("alice", "fmsdata")
	b := e.login("alice")

	all, checked := scopeBoxesOn(b.get("/portal/").body)
	if want := []string{"user", "query_mapdata", "fmsdata"}; !slices.Equal(all, want) || !slices.Equal(checked, want) {
		t.Fatalf("New client offers %q (ticked %q), want %q all ticked", all, checked, want)
	}
	if all, _ := scopeBoxesOn(e.login("bob").get("/portal/").body); !slices.Equal(all, []string{"user", "query_mapdata"}) {
		t.Errorf("bob is offered %q, want portal.scopes only", all)
	}

	t.Run("a forged scope is refused with the form error", func(t *testing.T) {
		for _, scopes := range [][]string{{"manage_users"}, {"user", "manage_users"}, {"nonsense"}} {
			r := b.postForm("/portal/", "/portal/clients", url.Values{"id": {"forged"}, "name": {"F"}, "scope": scopes})
			wantStatus(t, r, http.StatusBadRequest)
			if !strings.Contains(r.body, `class="alert alert-error"`) || !strings.Contains(r.body, "not among the scopes you are entitled to") {
				t.Fatalf("no form error for %q:\n%s", scopes, r.body)
			}
			if _, err := e.st.GetClient(t.Context(), "forged"); err == nil {
				t.Fatalf("client created with %q", scopes)
			}
		}
	})
	t.Run("the ticked scopes are the client's", func(t *testing.T) {
		r := b.postForm("/portal/", "/portal/clients", url.Values{"id": {"narrow"}, "name": {"N"}, "scope": {"fmsdata", "user"}})
		wantStatus(t, r, http.StatusSeeOther)
		if c := e.client("narrow"); !slices.Equal(c.Scopes, []string{"user", "fmsdata"}) || !c.PortalMade {
			t.Fatalf("client scopes %q, portal-made %v", c.Scopes, c.PortalMade)
		}
		r = b.postForm("/portal/", "/portal/clients", url.Values{"id": {"none"}, "name": {"N"}})
		wantStatus(t, r, http.StatusSeeOther)
		if c := e.client("none"); len(c.Scopes) != 0 {
			t.Fatalf("nothing ticked gave %q", c.Scopes)
		}
	})
}

func TestClientIDCannotBeAUserName(t *testing.T) {
	e := newEnv(t)
	if err := e.st.CreateUser(t.Context(), store.User{Name: "Carol", PasswordHash: passwordHash(), CreatedAt: e.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	b := e.login("alice")
	for _, id := range []string{"bob", "carol", "alice"} {
		r := b.postForm("/portal/", "/portal/clients", url.Values{"id": {id}, "name": {"Mine"}, "scope": {"user"}})
		wantStatus(t, r, http.StatusConflict)
		if !strings.Contains(r.body, "a user&#39;s name") || !strings.Contains(r.body, "without regard to case") {
			t.Errorf("client %q: the form does not say why:\n%s", id, r.body)
		}
		if _, err := e.st.GetClient(t.Context(), id); err == nil {
			t.Errorf("client %q created", id)
		}
	}
}

func TestClientPageScopes(t *testing.T) {
	e := newEnv(t)
	e.entitle("alice", "fmsdata")
	// A portal client made before entitlements held every scope.
	e.addClient(store.Client{ID: "old", Name: "Old", Owner: "alice", PortalMade: true, SecretHash: secret.HashSecret("s"),
		Scopes: []string{"manage_users", "user"}})
	e.addClient(store.Client{ID: "ops", Name: "Ops", Owner: "alice", SecretHash: secret.HashSecret("s"),
		Scopes: []string{"manage_users"}})
	b := e.login("alice")

	page := b.get("/portal/clients/old")
	all, checked := scopeBoxesOn(page.body)
	if !slices.Equal(all, []string{"user", "query_mapdata", "fmsdata"}) || !slices.Equal(checked, []string{"user"}) {
		t.Fatalf("client page offers %q ticked %q", all, checked)
	}
	if other := between(page.body, `id="other-scopes">`, `</p>`); !strings.Contains(other, "no longer entitled") || !strings.Contains(other, "manage_users") {
		t.Errorf("the page does not show manage_users as not issued: %q", other)
	}
	if other := between(b.get("/portal/clients/ops").body, `id="other-scopes">`, `</p>`); !strings.Contains(other, "Set by the operator") {
		t.Errorf("the operator's client does not show its scope as the operator's: %q", other)
	}

	t.Run("saving keeps the scopes outside the entitlement", func(t *testing.T) {
		r := b.postForm("/portal/clients/old", "/portal/clients/old/scopes", url.Values{"scope": {"fmsdata", "query_mapdata"}})
		wantStatus(t, r, http.StatusSeeOther)
		if c := e.client("old"); !slices.Equal(c.Scopes, []string{"query_mapdata", "fmsdata", "manage_users"}) {
			t.Fatalf("scopes %q", c.Scopes)
		}
		if !strings.Contains(b.get(r.Header.Get("Location")).body, "Scopes saved.") {
			t.Error("no notice")
		}
	})
	t.Run("a forged scope is refused", func(t *testing.T) {
		r := b.postForm("/portal/clients/old", "/portal/clients/old/scopes", url.Values{"scope": {"user", "manage_users"}})
		wantStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(r.body, "not among the scopes you are entitled to") {
			t.Fatalf("no form error:\n%s", r.body)
		}
		if c := e.client("old"); !slices.Equal(c.Scopes, []string{"query_mapdata", "fmsdata", "manage_users"}) {
			t.Fatalf("scopes changed to %q", c.Scopes)
		}
	})
	t.Run("another user's client is 404", func(t *testing.T) {
		bob := e.login("bob")
		r := bob.postForm("/portal/", "/portal/clients/old/scopes", url.Values{"scope": {"user"}})
		wantStatus(t, r, http.StatusNotFound)
	})
}

func TestAuthorizeLimitsPortalClients(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "mine", Name: "Mine", Owner: "bob", PortalMade: true, SecretHash: secret.HashSecret("s"),
		Grants: []string{"authorization_code", "implicit"}, Scopes: []string{"manage_users", "user"},
		RedirectURIs: []string{"https://mine.example/cb"}})
	e.addClient(store.Client{ID: "none-left", Name: "None", Owner: "bob", PortalMade: true, SecretHash: secret.HashSecret("s"),
		Grants: []string{"authorization_code", "implicit"}, Scopes: []string{"manage_users"}, RedirectURIs: []string{"https://mine.example/cb"}})
	b := e.login("alice")
	q := url.Values{"response_type": {"code"}, "client_id": {"mine"}, "state": {"s"}}

	_, r := consent(t, b, q)
	if got := between(r.body, `id="scopes">`, `</ul>`); !strings.Contains(got, "user") || strings.Contains(got, "manage_users") {
		t.Errorf("consent page scopes: %q", got)
	}
	for name, q := range map[string]url.Values{
		"asked for":     {"response_type": {"code"}, "client_id": {"mine"}, "state": {"s"}, "scope": {"user manage_users"}},
		"implicit":      {"response_type": {"token"}, "client_id": {"mine"}, "state": {"s"}, "scope": {"manage_users"}},
		"nothing left":  {"response_type": {"code"}, "client_id": {"none-left"}, "state": {"s"}},
		"nothing asked": {"response_type": {"token"}, "client_id": {"none-left"}, "state": {"s"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := b.get(authorizeURL(q))
			loc := r.Header.Get("Location")
			if r.StatusCode != http.StatusFound || !strings.Contains(loc, "error=invalid_scope") {
				t.Fatalf("status %d, Location %q, want an invalid_scope redirect", r.StatusCode, loc)
			}
		})
	}
	if len(e.minter.implicit) != 0 {
		t.Fatalf("minted %v", e.minter.implicit)
	}
}

func TestCreateTokenNeedsAnEntitledScope(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "old", Name: "Old", Owner: "alice", PortalMade: true, SecretHash: secret.HashSecret("s"),
		Scopes: []string{"manage_users"}})
	b := e.login("alice")
	r := b.postForm("/portal/clients/old", "/portal/clients/old/tokens", nil)
	wantStatus(t, r, http.StatusBadRequest)
	if !strings.Contains(r.body, "no scope you are entitled to") {
		t.Fatalf("no form error:\n%s", r.body)
	}
	if e.minter.n != 0 {
		t.Fatal("a token was minted")
	}
}

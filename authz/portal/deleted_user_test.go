package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
)

// TestDeletedUsersCookieSignsNobodyIn: logins are stateless cookies, so the
// portal checks that their user still exists: a deleted user's cookie leads
// back to the login page at once, on every page and form and on
// /authorize, and does not sign in a new user of the same name.
func TestDeletedUsersCookieSignsNobodyIn(t *testing.T) {
	e := newEnv(t)
	e.addClient(store.Client{ID: "app", Name: "App", Owner: "bob", SecretHash: secret.HashSecret("s"), Grants: []string{"authorization_code"},
		RedirectURIs: []string{"https://app.example/cb"}})
	e.addClient(store.Client{ID: "mine", Name: "Mine", Owner: "alice"})
	alice := e.login("alice")
	csrf := alice.csrf("/portal/")
	authorize := "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"app"},
		"redirect_uri": {"https://app.example/cb"}, "state": {"s"}}.Encode()
	wantStatus(t, alice.get(authorize), http.StatusOK)

	refused := func(t *testing.T, b *browser) {
		t.Helper()
		for _, r := range []response{
			b.get("/portal/"),
			b.get("/portal/clients/mine"),
			b.post("/portal/clients", url.Values{"csrf_token": {csrf}, "id": {"more"}, "name": {"More"}}),
			b.get(authorize),
		} {
			if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/portal/login") {
				t.Errorf("%s %s: %d, Location %q; want the login page", r.Request.Method, r.Request.URL.Path,
					r.StatusCode, r.Header.Get("Location"))
			}
		}
	}

	e.clk.Advance(time.Minute)
	if err := e.st.DeleteUser(t.Context(), "alice", e.clk.Now(), testTokenLifetime); err != nil {
		t.Fatal(err)
	}
	t.Run("deleted", func(t *testing.T) { refused(t, alice) })
	if _, err := e.st.GetClient(t.Context(), "more"); err == nil {
		t.Error("a deleted user's cookie created a client")
	}

	e.clk.Advance(time.Minute)
	if err := e.st.CreateUser(t.Context(), store.User{Name: "alice", PasswordHash: passwordHash(), CreatedAt: e.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	t.Run("a new user of the same name", func(t *testing.T) { refused(t, alice) })
	t.Run("the new user signs in", func(t *testing.T) {
		wantStatus(t, e.login("alice").get("/portal/"), http.StatusOK)
	})
	t.Run("other users are not affected", func(t *testing.T) {
		wantStatus(t, e.login("bob").get("/portal/"), http.StatusOK)
	})
}

// TestCookieOfADeletedUserInTheSameSecond: a user signs in, is deleted and
// a new user of the same name is made, all on a clock that does not move:
// the old cookie signs nobody in (it names the deleted user's creation
// time), and the new user's own login works at once.
func TestCookieOfADeletedUserInTheSameSecond(t *testing.T) {
	e := newEnv(t)
	alice := e.login("alice")
	wantStatus(t, alice.get("/portal/"), http.StatusOK)
	if err := e.st.DeleteUser(t.Context(), "alice", e.clk.Now(), testTokenLifetime); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateUser(t.Context(), store.User{Name: "alice", PasswordHash: passwordHash(), CreatedAt: e.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if r := alice.get("/portal/"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/portal/login") {
		t.Errorf("the deleted alice's cookie: %d, Location %q; want the login page", r.StatusCode, r.Header.Get("Location"))
	}
	wantStatus(t, e.login("alice").get("/portal/"), http.StatusOK)
}

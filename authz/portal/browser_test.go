package portal

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/internal/testbrowser"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the portal screenshots under docs/screenshots")

// step runs actions with a time limit, failing the test on an error.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	testbrowser.Do(t, ctx, 10*time.Second, what, actions...)
}

func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	return testbrowser.Value(t, ctx, 10*time.Second, what, a)
}

// screenshot saves the page as docs/screenshots/NAME.png when
// -update-screenshots is set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*updateScreenshots {
		return
	}
	png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserPortal(t *testing.T) {
	ctx := testbrowser.Start(t)
	e := newEnv(t)
	base := e.srv.URL

	step(t, ctx, "open the login page",
		chromedp.Navigate(base+"/portal/"),
		chromedp.WaitVisible(chromedp.ID("signin")),
	)
	screenshot(t, ctx, "login")

	step(t, ctx, "wrong password",
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "wrong"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS(".alert-error")),
	)
	step(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("new-client")),
	)

	step(t, ctx, "create a client",
		chromedp.SendKeys(chromedp.ID("client-id"), "flight planner"),
		chromedp.SendKeys(chromedp.ID("client-name"), "Flight planner"),
		chromedp.Click(chromedp.ID("create-client")),
		chromedp.WaitVisible(chromedp.ID("secret")),
	)
	shown := strings.TrimSpace(value(t, ctx, "read the secret", chromedp.Text(chromedp.ID("secret"))))
	c := e.client("flight planner")
	if !secret.EqualHash(c.SecretHash, secret.HashSecret(shown)) || c.Owner != "alice" {
		t.Fatalf("the secret on the page (%q) is not the client's", shown)
	}
	screenshot(t, ctx, "secret")

	step(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("client-id")))
	if gone := value(t, ctx, "look for the secret", chromedp.Evaluate[bool](`document.getElementById("secret") === null`)); !gone {
		t.Fatal("the secret is shown again after a reload")
	}

	// The script hides the fallback button and saves a select at once.
	step(t, ctx, "wait for the script", chromedp.Poll[chromedp.Void](`document.documentElement.classList.contains("js")`))
	if display := value(t, ctx, "fallback button", chromedp.Evaluate[string](
		`getComputedStyle(document.getElementById("save-grants")).display`)); display != "none" {
		t.Errorf("the fallback Save button shows with the script on (display %q)", display)
	}
	step(t, ctx, "enable a grant",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("grant-authorization_code");
			s.value = "on"; s.dispatchEvent(new Event("change", {bubbles: true})); })()`),
		chromedp.Poll[chromedp.Void](`document.getElementById("grants-status").textContent === "Saved"`,
			chromedp.WithPollingTimeout(5*time.Second)),
	)
	if g := e.client("flight planner").Grants; !slices.Equal(g, []string{"authorization_code"}) {
		t.Fatalf("stored grants %v", g)
	}

	step(t, ctx, "add a redirect URI",
		chromedp.SendKeys(chromedp.ID("redirect-uris"), "https://planner.example/callback"),
		chromedp.SendKeys(chromedp.ID("allowed-origins"), "https://planner.example"),
		chromedp.Click(chromedp.ID("save-uris")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	)
	c = e.client("flight planner")
	if !slices.Equal(c.RedirectURIs, []string{"https://planner.example/callback"}) ||
		!slices.Equal(c.AllowedOrigins, []string{"https://planner.example"}) {
		t.Fatalf("stored %q %q", c.RedirectURIs, c.AllowedOrigins)
	}

	step(t, ctx, "create an a2a token",
		chromedp.Click(chromedp.ID("create-token")),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	if tok := strings.TrimSpace(value(t, ctx, "read the token", chromedp.Text(chromedp.ID("token")))); tok != "a2a-token-1" {
		t.Fatalf("token %q", tok)
	}
	rows := value(t, ctx, "sessions", chromedp.Evaluate[int](`document.querySelectorAll("#sessions tbody tr").length`))
	if rows != 1 {
		t.Fatalf("%d sessions listed", rows)
	}
	screenshot(t, ctx, "client")

	step(t, ctx, "delete the session",
		chromedp.Click(chromedp.CSS("#sessions tbody tr button")),
		chromedp.WaitVisible(chromedp.ID("no-sessions")),
	)
	if !slices.Equal(e.revoker.ids(), []string{"a2a-session-1"}) {
		t.Fatalf("revoked %v", e.revoker.ids())
	}
	if s, err := e.st.GetSession(t.Context(), "a2a-session-1"); err != nil || s.RevokedAt.IsZero() {
		t.Fatalf("session not revoked: %+v %v", s, err)
	}

	step(t, ctx, "back to the list", chromedp.Navigate(base+"/portal/"), chromedp.WaitVisible(chromedp.ID("clients")))
	screenshot(t, ctx, "clients")
}

// TestBrowserAuthorize runs the code flow in the browser: login, consent,
// Allow, and the redirect to the client on another origin (which the
// consent page's CSP form-action must allow).
func TestBrowserAuthorize(t *testing.T) {
	ctx := testbrowser.Start(t)
	e := newEnv(t)
	landed := make(chan *url.URL, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case landed <- r.URL:
		default:
		}
		io.WriteString(w, "<!doctype html><title>app</title><p id=landed>back in the app</p>")
	}))
	t.Cleanup(app.Close)
	e.addClient(store.Client{ID: "planner", Name: "Flight planner", Grants: []string{"authorization_code"},
		Scopes: []string{"user"}, RedirectURIs: []string{app.URL + "/cb"}})

	q := url.Values{"response_type": {"code"}, "client_id": {"planner"}, "redirect_uri": {app.URL + "/cb"},
		"state": {"st-42"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}}
	step(t, ctx, "log in from the authorize request",
		chromedp.Navigate(e.srv.URL+"/authorize?"+q.Encode()),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("allow")),
	)
	if scopes := value(t, ctx, "scopes", chromedp.Text(chromedp.ID("scopes"))); strings.TrimSpace(scopes) != "user" {
		t.Fatalf("consent lists %q", scopes)
	}
	screenshot(t, ctx, "consent")
	step(t, ctx, "allow", chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("landed")))
	u := <-landed
	if u.Query().Get("state") != "st-42" || u.Query().Get("code") == "" {
		t.Fatalf("landed on %v", u)
	}
	c, err := e.st.ConsumeCode(t.Context(), "planner", secret.HashSecret(u.Query().Get("code")), e.clk.Now())
	if err != nil || c.Subject != "alice" || c.ClientID != "planner" || c.CodeChallenge != challenge(verifier) {
		t.Fatalf("code %+v %v", c, err)
	}
}

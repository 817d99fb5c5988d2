package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/clearance-gw/clearance/internal/testbrowser"
)

// The browser tests drive the whole gateway ("clearance serve" in-process)
// from a headless Chromium: the authorization-code flow with PKCE, the
// implicit flow with CORS from a single-page app, and the developer portal.

const (
	browserUser     = "alice"
	browserPassword = "correct horse battery"
)

// browse runs actions with a time limit, failing the test on an error.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	testbrowser.Do(t, ctx, 15*time.Second, what, actions...)
}

// browserValue runs one action that yields a value.
func browserValue[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	return testbrowser.Value(t, ctx, 15*time.Second, what, a)
}

// browserSite is a gateway with one user and a charts route whose upstream
// echoes who called it.
type browserSite struct {
	cfgPath string
	base    string // the gateway's public listener
	api     string // an API URL behind the charts route
	g       *runningGateway
}

// newBrowserSite writes the config, adds the user, lets setup register
// clients with the CLI, and starts the gateway.
func newBrowserSite(t *testing.T, setup func(cfgPath string)) *browserSite {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"sub":%q,"client":%q}`, r.Header.Get("X-Auth-Subject"), r.Header.Get("X-Auth-Client-Id"))
	}))
	t.Cleanup(up.Close)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeConfig(t, path, up.URL, nil, "")
	// The user may give their portal clients charts (SPEC §10).
	cliRun(t, browserPassword+"\n", "user", "add", browserUser, "--scope", "charts", "--config", path)
	if setup != nil {
		setup(path)
	}
	g := startGateway(t, path)
	base := "http://" + g.addrs.Public
	return &browserSite{cfgPath: path, base: base, api: base + "/v1/charts/EDDF", g: g}
}

// oauthContext makes golang.org/x/oauth2 use a client of its own.
func oauthContext(t *testing.T) context.Context {
	return context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
}

// oauthErrorCode is the RFC 6749 error code of a token endpoint failure.
func oauthErrorCode(err error) string {
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		return re.ErrorCode
	}
	return ""
}

// signInAt logs in on the login page the browser shows.
func signInAt(t *testing.T, ctx context.Context, next string) {
	t.Helper()
	browse(t, ctx, "sign in",
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.SendKeys(chromedp.ID("username"), browserUser),
		chromedp.SendKeys(chromedp.ID("password"), browserPassword),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID(next)),
	)
}

// TestBrowserCodeFlowWithPKCE: the browser follows an authorization URL
// built by golang.org/x/oauth2 with an S256 challenge, signs in, consents
// and lands on the app (another origin) with the code and state; the code
// is exchanged with the verifier and the token calls the API. The same
// code again is invalid_grant and revokes what was issued with it.
func TestBrowserCodeFlowWithPKCE(t *testing.T) {
	landed := make(chan *url.URL, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		select {
		case landed <- r.URL:
		default:
		}
		io.WriteString(w, `<!doctype html><title>app</title><p id="landed">back in the app</p>`)
	})
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)

	site := newBrowserSite(t, func(cfg string) {
		cliRun(t, "", "client", "create", "--config", cfg, "--id", "pilot web", "--name", "Pilot web", "--public",
			"--grant", "authorization_code", "--grant", "refresh_token", "--scope", "charts",
			"--redirect-uri", app.URL+"/cb", "--json")
	})
	ctx := testbrowser.Start(t)
	conf := oauth2.Config{ClientID: "pilot web", RedirectURL: app.URL + "/cb", Scopes: []string{"charts"},
		Endpoint: oauth2.Endpoint{AuthURL: site.base + "/authorize", TokenURL: site.base + "/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st-code-7", oauth2.S256ChallengeOption(verifier))

	browse(t, ctx, "open the authorization URL", chromedp.Navigate(authURL))
	signInAt(t, ctx, "allow")
	if scopes := browserValue(t, ctx, "scopes on the consent page", chromedp.Text(chromedp.ID("scopes"))); strings.TrimSpace(scopes) != "charts" {
		t.Fatalf("consent lists %q, want charts", scopes)
	}
	browse(t, ctx, "allow", chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("landed")))
	var u *url.URL
	select {
	case u = <-landed:
	case <-time.After(5 * time.Second):
		t.Fatal("the app's redirect URI was not called")
	}
	code := u.Query().Get("code")
	if u.Query().Get("state") != "st-code-7" || code == "" {
		t.Fatalf("landed on %v", u)
	}
	if loc := browserValue(t, ctx, "browser location", chromedp.Evaluate[string](`location.origin + location.pathname`)); loc != app.URL+"/cb" {
		t.Fatalf("the browser is at %q", loc)
	}

	octx := oauthContext(t)
	tok, err := conf.Exchange(octx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code with the verifier: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Error("the code grant returned no refresh token for a client with refresh_token")
	}
	if got := callAPI(t, site.api, tok.AccessToken); got != http.StatusOK {
		t.Fatalf("API with the code-flow token: %d", got)
	}
	var sessions []sessionJSON
	json.Unmarshal([]byte(cliRun(t, "", "sessions", "list", "--client", "pilot web", "--config", site.cfgPath, "--json")), &sessions)
	if len(sessions) != 1 || sessions[0].Subject != browserUser {
		t.Fatalf("sessions after the exchange = %+v", sessions)
	}

	// The same code a second time: invalid_grant, and the session it
	// opened is revoked, so its token is refused by the proxy.
	_, err = conf.Exchange(octx, code, oauth2.VerifierOption(verifier))
	if got := oauthErrorCode(err); got != "invalid_grant" {
		t.Fatalf("replayed code: error %v (code %q), want invalid_grant", err, got)
	}
	eventually(t, "the replayed code's token refused by the proxy", func() bool {
		return callAPI(t, site.api, tok.AccessToken) == http.StatusUnauthorized
	})
	if _, err := conf.TokenSource(octx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("refresh token of the replayed code's session: %v, want invalid_grant", err)
	}
}

// appPage is a single-page app: it reads access_token from the fragment
// and calls the API with fetch(), showing the status and body or the
// error in #result.
func appPage(api string) http.Handler {
	page := fmt.Sprintf(`<!doctype html><title>charts app</title>
<p id="result">waiting</p>
<script>
(async () => {
  const out = document.getElementById("result");
  const params = new URLSearchParams(location.hash.slice(1));
  try {
    const res = await fetch(%q, {headers: {"Authorization": "Bearer " + params.get("access_token")}});
    out.textContent = res.status + " " + await res.text();
  } catch (e) {
    out.textContent = "error: " + e.name;
  }
  out.dataset.done = "yes";
})();
</script>`, api)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cb" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
}

// TestBrowserImplicitFlowCORS: a single-page app gets a token in the
// fragment by the implicit grant and calls the API with fetch() from its
// allowed origin (a CORS preflight the gateway answers, then the call);
// the same token used from another origin cannot read the API.
func TestBrowserImplicitFlowCORS(t *testing.T) {
	// The API URL is known only once the gateway runs; the pages read it
	// when they are served.
	var api atomic.Pointer[string]
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { appPage(*api.Load()).ServeHTTP(w, r) })
	app := httptest.NewServer(page)
	t.Cleanup(app.Close)
	other := httptest.NewServer(page)
	t.Cleanup(other.Close)

	site := newBrowserSite(t, func(cfg string) {
		cliRun(t, "", "client", "create", "--config", cfg, "--id", "charts spa", "--name", "Charts SPA", "--public",
			"--grant", "implicit", "--scope", "charts", "--redirect-uri", app.URL+"/cb", "--origin", app.URL, "--json")
	})
	api.Store(&site.api)
	ctx := testbrowser.Start(t)

	q := url.Values{"response_type": {"token"}, "client_id": {"charts spa"}, "redirect_uri": {app.URL + "/cb"},
		"scope": {"charts"}, "state": {"st-imp-3"}}
	browse(t, ctx, "open the implicit authorization URL", chromedp.Navigate(site.base+"/authorize?"+q.Encode()))
	signInAt(t, ctx, "allow")
	browse(t, ctx, "allow and let the app call the API",
		chromedp.Click(chromedp.ID("allow")),
		chromedp.WaitVisible(chromedp.CSS(`#result[data-done="yes"]`)),
	)
	fragment := browserValue(t, ctx, "the fragment", chromedp.Evaluate[string](`location.hash.slice(1)`))
	fv, err := url.ParseQuery(fragment)
	if err != nil {
		t.Fatalf("fragment %q: %v", fragment, err)
	}
	token := fv.Get("access_token")
	if token == "" || fv.Get("token_type") != "Bearer" || fv.Get("state") != "st-imp-3" || fv.Get("refresh_token") != "" {
		t.Fatalf("fragment %q", fragment)
	}
	want := fmt.Sprintf(`200 {"sub":%q,"client":"charts spa"}`, browserUser)
	if got := browserValue(t, ctx, "the app's result", chromedp.Text(chromedp.ID("result"))); got != want {
		t.Fatalf("the app shows %q, want %q", got, want)
	}

	// The same token from another origin: the page cannot read the API.
	browse(t, ctx, "the other origin calls the API",
		chromedp.Navigate(other.URL+"/cb#"+url.Values{"access_token": {token}}.Encode()),
		chromedp.WaitVisible(chromedp.CSS(`#result[data-done="yes"]`)),
	)
	if got := browserValue(t, ctx, "the other page's result", chromedp.Text(chromedp.ID("result"))); got != "error: TypeError" {
		t.Fatalf("the other origin's page shows %q, want a failed fetch", got)
	}

	// The same checks without a browser.
	call := func(method, origin string, hdr map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, site.api, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	bearer := map[string]string{"Authorization": "Bearer " + token}
	if res := call(http.MethodGet, other.URL, bearer); res.StatusCode != http.StatusUnauthorized || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("token from the other origin: %d, Access-Control-Allow-Origin %q; want 401 without it",
			res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	if res := call(http.MethodGet, app.URL, bearer); res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != app.URL ||
		!slices.Contains(res.Header.Values("Vary"), "Origin") {
		t.Errorf("token from its origin: %d, Access-Control-Allow-Origin %q, Vary %q",
			res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), res.Header.Values("Vary"))
	}
	preflight := map[string]string{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
	if res := call(http.MethodOptions, app.URL, preflight); res.StatusCode >= 300 || res.Header.Get("Access-Control-Allow-Origin") != app.URL {
		t.Errorf("preflight from the app's origin: %d, Access-Control-Allow-Origin %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	if res := call(http.MethodOptions, other.URL, preflight); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from the other origin allowed: %d, Access-Control-Allow-Origin %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestBrowserPortalEndToEnd: a user signs in to the portal, creates a
// client, reads its secret once, switches client_credentials on and off
// (the token endpoint follows), adds a redirect URI, creates an a2a token
// that calls the API, and deletes its session (the proxy refuses it).
func TestBrowserPortalEndToEnd(t *testing.T) {
	site := newBrowserSite(t, nil)
	ctx := testbrowser.Start(t)
	const clientID = "ops board"

	browse(t, ctx, "open the portal login", chromedp.Navigate(site.base+"/portal/login"))
	signInAt(t, ctx, "new-client")

	browse(t, ctx, "create a client",
		chromedp.SendKeys(chromedp.ID("client-id"), clientID),
		chromedp.SendKeys(chromedp.ID("client-name"), "Ops board"),
		chromedp.Click(chromedp.ID("create-client")),
		chromedp.WaitVisible(chromedp.ID("secret")),
	)
	sec := strings.TrimSpace(browserValue(t, ctx, "read the secret", chromedp.Text(chromedp.ID("secret"))))
	if sec == "" {
		t.Fatal("no secret shown")
	}
	browse(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("client-id")))
	if gone := browserValue(t, ctx, "look for the secret", chromedp.Evaluate[bool](
		`document.getElementById("secret") === null && !document.body.textContent.includes(`+jsString(sec)+`)`)); !gone {
		t.Fatal("the secret is shown again after a reload")
	}

	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: sec, TokenURL: site.base + "/token",
		Scopes: []string{"charts"}, AuthStyle: oauth2.AuthStyleInHeader}
	octx := oauthContext(t)
	if _, err := cc.Token(octx); oauthErrorCode(err) != "unauthorized_client" {
		t.Fatalf("client_credentials before it is enabled: %v, want unauthorized_client", err)
	}

	// The select saves at once through the page's script.
	setGrant := func(state, saved string) {
		t.Helper()
		browse(t, ctx, "client_credentials "+state,
			chromedp.Poll[chromedp.Void](`document.documentElement.classList.contains("js")`),
			chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("grant-client_credentials");
				s.value = `+jsString(state)+`; s.dispatchEvent(new Event("change", {bubbles: true})); })()`),
			chromedp.Poll[chromedp.Void](`document.getElementById("grants-status").textContent === "Saved" &&
				document.getElementById("grants-form").dataset.saved === `+jsString(saved),
				chromedp.WithPollingTimeout(10*time.Second)),
		)
	}
	setGrant("on", "client_credentials")
	tok, err := cc.Token(octx)
	if err != nil {
		t.Fatalf("client_credentials once enabled in the portal: %v", err)
	}
	if got := callAPI(t, site.api, tok.AccessToken); got != http.StatusOK {
		t.Fatalf("API with the portal client's token: %d", got)
	}
	setGrant("off", "")
	if _, err := cc.Token(octx); oauthErrorCode(err) != "unauthorized_client" {
		t.Fatalf("client_credentials after it is disabled: %v, want unauthorized_client", err)
	}

	browse(t, ctx, "add a redirect URI",
		chromedp.SendKeys(chromedp.ID("redirect-uris"), "https://ops.example/callback"),
		chromedp.SendKeys(chromedp.ID("allowed-origins"), "https://ops.example"),
		chromedp.Click(chromedp.ID("save-uris")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	)
	var shown clientJSON
	if err := json.Unmarshal([]byte(cliRun(t, "", "client", "show", clientID, "--config", site.cfgPath, "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shown.RedirectURIs, []string{"https://ops.example/callback"}) ||
		!slices.Equal(shown.AllowedOrigins, []string{"https://ops.example"}) || shown.Owner != browserUser || len(shown.Grants) != 0 {
		t.Fatalf("stored client %+v", shown)
	}

	browse(t, ctx, "create an a2a token",
		chromedp.Click(chromedp.ID("create-token")),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	a2a := strings.TrimSpace(browserValue(t, ctx, "read the token", chromedp.Text(chromedp.ID("token"))))
	if got := callAPI(t, site.api, a2a); got != http.StatusOK {
		t.Fatalf("API with the portal's a2a token: %d", got)
	}
	type row struct{ Kind, User string }
	rows := browserValue(t, ctx, "current sessions", chromedp.Evaluate[[]row](
		`[...document.querySelectorAll("#sessions tbody tr")].map(tr => ({Kind: tr.cells[1].textContent.trim(), User: tr.cells[2].textContent.trim()}))`))
	if !slices.Equal(rows, []row{{"a2a", browserUser}}) {
		t.Fatalf("current sessions %+v, want the a2a session", rows)
	}

	browse(t, ctx, "delete the session",
		chromedp.Click(chromedp.CSS("#sessions tbody tr button")),
		chromedp.WaitVisible(chromedp.ID("no-sessions")),
	)
	eventually(t, "the deleted session's token refused by the proxy", func() bool {
		return callAPI(t, site.api, a2a) == http.StatusUnauthorized
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

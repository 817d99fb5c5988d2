package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// cli runs one clearance command in-process and returns its stdout.
func cliRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Now: time.Now,
		LookupEnv: func(string) (string, bool) { return "", false }}
	if code := Run(t.Context(), args, env); code != 0 {
		t.Fatalf("clearance %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

func callAPI(t *testing.T, url, token string) int {
	t.Helper()
	res, err := get(url, token)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// eventually polls cond for up to 3 s (revocations and key rotations reach
// a running gateway through the store within a second).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, 3*time.Second, what, cond)
}

func eventuallyWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	msg, err := jws.Parse([]byte(token))
	if err != nil {
		t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}

// TestAuthorizationServerEndToEnd drives the gateway as an operator and a
// client would: clients and users made with the CLI, tokens from the token
// endpoint through golang.org/x/oauth2, the API called through the proxy,
// a session revoked and keys rotated from the CLI while the gateway runs,
// and a restart that keeps everything.
func TestAuthorizationServerEndToEnd(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"sub":%q}`, r.Header.Get("X-Auth-Subject"))
	}))
	defer up.Close()
	ti := newTestIssuer(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	writeConfig(t, cfgPath, up.URL, ti, "")

	// An operator registers a backend client and a first-party app.
	var created struct{ ClientID, ClientSecret string }
	out := cliRun(t, "", "client", "create", "--config", cfgPath, "--id", "charts backend", "--name", "Charts backend",
		"--grant", "client_credentials", "--scope", "charts", "--json")
	var raw map[string]string
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("client create --json: %v\n%s", err, out)
	}
	created.ClientID, created.ClientSecret = raw["client_id"], raw["client_secret"]
	if created.ClientSecret == "" || strings.Contains(cliRun(t, "", "client", "show", "charts backend", "--config", cfgPath, "--json"), created.ClientSecret) {
		t.Fatal("the secret must be printed by create and never by show")
	}
	cliRun(t, "correct horse battery\n", "user", "add", "alice", "--config", cfgPath)
	out = cliRun(t, "", "client", "create", "--config", cfgPath, "--id", "pilot-app", "--name", "Pilot app", "--first-party",
		"--grant", "password", "--grant", "refresh_token", "--grant", "a2a", "--scope", "charts", "--json")
	json.Unmarshal([]byte(out), &raw)
	appSecret := raw["client_secret"]

	g := startGateway(t, cfgPath)
	base := "http://" + g.addrs.Public
	api := base + "/v1/charts/EDDF"
	ctx := t.Context()

	// client_credentials, secret in the Basic header and in the body.
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{ClientID: created.ClientID, ClientSecret: created.ClientSecret,
			TokenURL: base + "/token", Scopes: []string{"charts"}, AuthStyle: style}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client_credentials (style %d): %v", style, err)
		}
		if tok.RefreshToken != "" {
			t.Error("client_credentials must not return a refresh token")
		}
		if got := callAPI(t, api, tok.AccessToken); got != http.StatusOK {
			t.Fatalf("API with a client_credentials token: %d", got)
		}
	}

	// The password grant opens a session; revoking it from the CLI reaches
	// the running gateway within a second.
	app := oauth2.Config{ClientID: "pilot-app", ClientSecret: appSecret, Endpoint: oauth2.Endpoint{TokenURL: base + "/token"}, Scopes: []string{"charts"}}
	ptok, err := app.PasswordCredentialsToken(ctx, "alice", "correct horse battery")
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	if ptok.RefreshToken == "" {
		t.Fatal("the password grant must return a refresh token")
	}
	if got := callAPI(t, api, ptok.AccessToken); got != http.StatusOK {
		t.Fatalf("API with a password-grant token: %d", got)
	}
	var sessions []sessionJSON
	json.Unmarshal([]byte(cliRun(t, "", "sessions", "list", "--client", "pilot-app", "--config", cfgPath, "--json")), &sessions)
	if len(sessions) != 1 || sessions[0].Subject != "alice" {
		t.Fatalf("sessions = %+v", sessions)
	}
	cliRun(t, "", "sessions", "revoke", sessions[0].ID, "--config", cfgPath)
	eventually(t, "revoked session refused by the proxy", func() bool { return callAPI(t, api, ptok.AccessToken) == http.StatusUnauthorized })
	if _, err := app.TokenSource(ctx, &oauth2.Token{RefreshToken: ptok.RefreshToken}).Token(); err == nil {
		t.Error("the refresh token of a revoked session still works")
	}

	// An a2a token from the CLI works at the proxy.
	var a2a map[string]any
	json.Unmarshal([]byte(cliRun(t, "", "token", "a2a", "--client", "pilot-app", "--user", "alice", "--config", cfgPath, "--json")), &a2a)
	a2aToken, _ := a2a["access_token"].(string)
	if got := callAPI(t, api, a2aToken); got != http.StatusOK {
		t.Fatalf("API with an a2a token: %d", got)
	}
	if exp, _ := a2a["expires_in"].(float64); exp < 364*24*3600 {
		t.Errorf("a2a expires_in = %v, want a year", a2a["expires_in"])
	}

	// Key rotation from the CLI: new tokens are signed with the new key
	// within seconds, and tokens of the old key keep working.
	oldKID := kidOf(t, a2aToken)
	cliRun(t, "", "keys", "rotate", "--config", cfgPath)
	cc := clientcredentials.Config{ClientID: created.ClientID, ClientSecret: created.ClientSecret, TokenURL: base + "/token"}
	var newTok string
	// Published at once, signing after the activation delay (2 s) plus a
	// reload (1 s).
	if !strings.Contains(string(mustGet(t, base+"/.well-known/jwks.json")), kidOf(t, a2aToken)) {
		t.Error("the old key is no longer published")
	}
	eventuallyWithin(t, 6*time.Second, "the running gateway signs with the new key", func() bool {
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		newTok = tok.AccessToken
		return kidOf(t, newTok) != oldKID
	})
	for name, tok := range map[string]string{"new key": newTok, "old key": a2aToken} {
		if got := callAPI(t, api, tok); got != http.StatusOK {
			t.Errorf("token of the %s: %d", name, got)
		}
	}

	// A restart keeps clients, users, sessions and keys.
	g.cancel()
	<-g.done
	g.done <- 0
	g2 := startGateway(t, cfgPath)
	api2 := "http://" + g2.addrs.Public + "/v1/charts/EDDF"
	if got := callAPI(t, api2, a2aToken); got != http.StatusOK {
		t.Errorf("a2a token after restart: %d", got)
	}
	if got := callAPI(t, api2, ptok.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("revoked token after restart: %d", got)
	}
	cc.TokenURL = "http://" + g2.addrs.Public + "/token"
	if _, err := cc.Token(context.Background()); err != nil {
		t.Errorf("client after restart: %v", err)
	}
	app.Endpoint.TokenURL = cc.TokenURL
	if _, err := app.PasswordCredentialsToken(ctx, "alice", "correct horse battery"); err != nil {
		t.Errorf("user after restart: %v", err)
	}
	for _, secret := range []string{created.ClientSecret, appSecret, a2aToken, "correct horse battery"} {
		if strings.Contains(g.logs.String()+g2.logs.String(), secret) {
			t.Error("a secret or token reached the log")
		}
	}
}

func mustGet(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package issuer_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/clearance-gw/clearance/authz/issuer"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

func TestEveryRFC6749ErrorCode(t *testing.T) {
	fx := newFixture(t)
	backend := []string{"Authorization", basic("backend", backendSecret)}
	app := []string{"Authorization", basic("app", appSecret)}
	third := []string{"Authorization", basic("third", thirdSecret)}
	tests := []struct {
		name   string
		v      url.Values
		hdr    []string
		status int
		code   string
	}{
		{"no grant_type", url.Values{}, backend, 400, "invalid_request"},
		{"password grant without password", url.Values{"grant_type": {"password"}, "username": {"alice"}}, app, 400, "invalid_request"},
		{"refresh grant without refresh_token", url.Values{"grant_type": {"refresh_token"}}, app, 400, "invalid_request"},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, []string{"Authorization", basic("backend", "nope")}, 401, "invalid_client"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}}, []string{"Authorization", basic("ghost", "x")}, 401, "invalid_client"},
		{"no client authentication", url.Values{"grant_type": {"client_credentials"}}, nil, 401, "invalid_client"},
		{"confidential client without a secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"backend"}}, nil, 401, "invalid_client"},
		{"public client with a secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, []string{"Authorization", basic("spa", "guess")}, 401, "invalid_client"},
		{"bearer instead of basic", url.Values{"grant_type": {"client_credentials"}}, []string{"Authorization", "Bearer abc"}, 401, "invalid_client"},
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}, app, 400, "invalid_grant"},
		{"unknown user", url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"nope"}}, app, 400, "invalid_grant"},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, app, 400, "invalid_grant"},
		{"grant not enabled for the client", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, backend, 400, "unauthorized_client"},
		{"password grant by a third party", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, third, 400, "unauthorized_client"},
		{"a2a grant by a third party", url.Values{"grant_type": {"a2a"}, "username": {"alice"}, "password": {alicePassword}}, third, 400, "unauthorized_client"},
		{"admin grant by a third party", url.Values{"grant_type": {"admin"}, "username": {"root"}, "password": {rootPassword}, "subject": {"alice"}}, third, 400, "unauthorized_client"},
		{"public client, confidential grant", url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, nil, 400, "unauthorized_client"},
		{"unknown grant", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}, backend, 400, "unsupported_grant_type"},
		{"implicit at the token endpoint", url.Values{"grant_type": {"implicit"}}, backend, 400, "unsupported_grant_type"},
		{"undeclared scope", url.Values{"grant_type": {"client_credentials"}, "scope": {"user admin"}}, backend, 400, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.form(tt.v, tt.hdr...)
			if r.status != tt.status || r.str("error") != tt.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
			}
			if r.str("error_description") == "" {
				t.Error("no error_description")
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", r.header)
			}
			wa := r.header.Get("WWW-Authenticate")
			if tt.code == "invalid_client" && wa != `Basic realm="clearance"` {
				t.Errorf("WWW-Authenticate = %q, want Basic realm", wa)
			}
			if tt.code != "invalid_client" && wa != "" {
				t.Errorf("WWW-Authenticate = %q on %s", wa, tt.code)
			}
		})
	}
	if fx.activeSessions() != 0 {
		t.Errorf("failed requests left %d sessions", fx.activeSessions())
	}
}

func TestWrongSecretIsACleanOAuth2Error(t *testing.T) {
	fx := newFixture(t)
	cc := clientcredentials.Config{ClientID: "backend", ClientSecret: "wrong", TokenURL: fx.tokenURL(),
		AuthStyle: oauth2.AuthStyleAutoDetect}
	_, err := cc.Token(fx.oauthCtx())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("err = %v, want a RetrieveError invalid_client 401", err)
	}
}

func TestInvalidScopeStatusFollowsTheProfile(t *testing.T) {
	fx := newFixture(t, withConfig(func(c *config.Config) { c.Tokens.InvalidScopeStatus = 401 }))
	r := fx.form(url.Values{"grant_type": {"client_credentials"}, "scope": {"manage_users"}},
		"Authorization", basic("backend", backendSecret))
	if r.status != 401 || r.str("error") != "invalid_scope" {
		t.Fatalf("got %d %s, want 401 invalid_scope", r.status, r.raw)
	}
	if r.header.Get("WWW-Authenticate") != "" {
		t.Error("WWW-Authenticate on invalid_scope")
	}
}

func TestBodyFormatsFollowTheConfig(t *testing.T) {
	form := "grant_type=client_credentials&client_id=backend&client_secret=" + url.QueryEscape(backendSecret)
	jsonBody := `{"grant_type":"client_credentials","client_id":"backend","client_secret":"` + backendSecret + `"}`
	tests := []struct {
		name     string
		formats  []string
		ct, body string
		status   int
		desc     string
	}{
		{"form only refuses a JSON body", []string{"form"}, "application/json", jsonBody, 400, "accepts application/x-www-form-urlencoded"},
		{"form only accepts a form body", []string{"form"}, "application/x-www-form-urlencoded", form, 200, ""},
		{"form only names itself for an unknown type", []string{"form"}, "text/plain", form, 400, "accepts application/x-www-form-urlencoded"},
		{"json only refuses a form body", []string{"json"}, "application/x-www-form-urlencoded", form, 400, "accepts application/json"},
		{"json only accepts a JSON body with a charset", []string{"json"}, "application/json; charset=utf-8", jsonBody, 200, ""},
		{"both accept JSON", []string{"json", "form"}, "application/json", jsonBody, 200, ""},
		{"both accept a form", []string{"json", "form"}, "application/x-www-form-urlencoded", form, 200, ""},
		{"both name both for an unknown type", []string{"json", "form"}, "text/plain", form, 400, "accepts application/json or application/x-www-form-urlencoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, withConfig(func(c *config.Config) { c.Tokens.BodyFormats = tt.formats }))
			r := fx.post(fx.cfg.Endpoints.Token, tt.ct, tt.body)
			if r.status != tt.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tt.status)
			}
			if tt.status == 200 {
				if r.str("access_token") == "" {
					t.Errorf("no access token: %s", r.raw)
				}
				return
			}
			if r.str("error") != "invalid_request" || !strings.Contains(r.str("error_description"), tt.desc) {
				t.Errorf("got %s, want invalid_request mentioning %q", r.raw, tt.desc)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	fx := newFixture(t)
	auth := []string{"Authorization", basic("backend", backendSecret)}
	body := "grant_type=client_credentials"
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		hdr         []string
		status      int
		desc        string
	}{
		{"wrong content type", "POST", "text/plain", body, auth, 400, "Content-Type"},
		{"multipart body", "POST", "multipart/form-data; boundary=x", body, auth, 400, "Content-Type"},
		{"no content type", "POST", "", body, auth, 400, "Content-Type"},
		{"malformed content type", "POST", "application/json; =", body, auth, 400, "Content-Type"},
		{"grant_type twice", "POST", "application/x-www-form-urlencoded", body + "&grant_type=password", auth, 400, "more than once"},
		{"scope twice, one empty", "POST", "application/x-www-form-urlencoded", body + "&scope=&scope=user", auth, 400, "more than once"},
		{"json key twice", "POST", "application/json", `{"grant_type":"client_credentials","grant_type":"password"}`, auth, 400, "more than once"},
		{"json scope as string and array", "POST", "application/json", `{"grant_type":"client_credentials","scope":"user","scope":["user"]}`, auth, 400, "more than once"},
		{"json number", "POST", "application/json", `{"grant_type":"client_credentials","scope":1}`, auth, 400, "must be a string"},
		{"json nested object", "POST", "application/json", `{"grant_type":{"a":"b"}}`, auth, 400, "must be a string"},
		{"json array body", "POST", "application/json", `["grant_type"]`, auth, 400, "object"},
		{"json trailing data", "POST", "application/json", `{"grant_type":"client_credentials"} {}`, auth, 400, "after the JSON object"},
		{"truncated json", "POST", "application/json", `{"grant_type":"client_`, auth, 400, "malformed"},
		{"malformed form escape", "POST", "application/x-www-form-urlencoded", "grant_type=%zz", auth, 400, "malformed form"},
		{"two authorization headers", "POST", "application/x-www-form-urlencoded", body, append(auth, "Authorization", basic("app", appSecret)), 400, "more than one"},
		{"basic and body secret", "POST", "application/x-www-form-urlencoded", body + "&client_id=backend&client_secret=x", auth, 400, "both"},
		{"basic and another client_id", "POST", "application/x-www-form-urlencoded", body + "&client_id=app", auth, 400, "differs"},
		{"malformed basic", "POST", "application/x-www-form-urlencoded", body, []string{"Authorization", "Basic !!!"}, 401, "Basic"},
		{"GET", "GET", "", "", auth, 405, "POST"},
		{"10 MB body", "POST", "application/x-www-form-urlencoded", body + "&pad=" + strings.Repeat("a", 10<<20), auth, 413, "64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, fx.tokenURL(), strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Add(tt.hdr[i], tt.hdr[i+1])
			}
			r := fx.do(req)
			wantCode := "invalid_request"
			if tt.status == 401 {
				wantCode = "invalid_client"
			}
			if r.status != tt.status || r.str("error") != wantCode || !strings.Contains(r.str("error_description"), tt.desc) {
				t.Fatalf("got %d %s, want %d %s mentioning %q", r.status, r.raw, tt.status, wantCode, tt.desc)
			}
			if tt.status == 405 && r.header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", r.header.Get("Allow"))
			}
		})
	}
	if fx.activeSessions() != 0 {
		t.Errorf("bad requests left %d sessions", fx.activeSessions())
	}
	if got := counter(t, fx, "clearance_tokens_issued_total", "client_credentials"); got != 0 {
		t.Errorf("tokens issued = %v", got)
	}
}

// failingStore fails the chosen operations, as a database that went away.
type failingStore struct {
	issuer.Store
	failGetClient     atomic.Bool
	failCreateSession atomic.Bool
}

var errDown = errors.New("database is locked: disk I/O error at /var/lib/db")

func (f *failingStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	if f.failGetClient.Load() {
		return store.Client{}, errDown
	}
	return f.Store.GetClient(ctx, id)
}

func (f *failingStore) CreateSession(ctx context.Context, s store.Session, first *store.RefreshToken) error {
	if f.failCreateSession.Load() {
		return errDown
	}
	return f.Store.CreateSession(ctx, s, first)
}

func TestStoreFailureIsAServerError(t *testing.T) {
	fs := &failingStore{}
	fx := newFixture(t, withStore(func(s issuer.Store) issuer.Store { fs.Store = s; return fs }))
	auth := []string{"Authorization", basic("app", appSecret)}
	password := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}

	tests := []struct {
		name string
		fail *atomic.Bool
	}{
		{"client lookup fails", &fs.failGetClient},
		{"session write fails", &fs.failCreateSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fail.Store(true)
			defer tt.fail.Store(false)
			r := fx.form(password, auth...)
			if r.status != 500 || r.str("error") != "server_error" || r.str("error_description") != "internal error" {
				t.Fatalf("got %d %s, want 500 server_error", r.status, r.raw)
			}
			if strings.Contains(r.raw, "disk") {
				t.Error("store details leaked into the response")
			}
			if !strings.Contains(fx.logs.String(), "disk I/O error") || !strings.Contains(fx.logs.String(), "level=ERROR") {
				t.Error("the store error was not logged at Error")
			}
			if fx.activeSessions() != 0 {
				t.Error("a failed request left a session")
			}
		})
	}
	if r := fx.form(password, auth...); r.status != 200 {
		t.Fatalf("after recovery: %d %s", r.status, r.raw)
	}
}

func TestUpdateAppliesAReloadedConfig(t *testing.T) {
	fx := newFixture(t)
	v := url.Values{"grant_type": {"client_credentials"}, "scope": {"nope"}}
	if r := fx.form(v, "Authorization", basic("backend", backendSecret)); r.status != 400 {
		t.Fatalf("before: %d %s", r.status, r.raw)
	}
	next := *fx.cfg
	next.Tokens.InvalidScopeStatus = 401
	next.Clients = slices.Clone(fx.cfg.Clients)
	next.Clients[0].Secret = "rotated-secret"
	if err := issuer.UpsertClients(context.Background(), fx.st, &next); err != nil {
		t.Fatal(err)
	}
	fx.srv.Update(&next)
	if r := fx.form(v, "Authorization", basic("backend", "rotated-secret")); r.status != 401 || r.str("error") != "invalid_scope" {
		t.Fatalf("after: %d %s", r.status, r.raw)
	}
	if r := fx.form(v, "Authorization", basic("backend", backendSecret)); r.str("error") != "invalid_client" {
		t.Fatalf("old secret after upsert: %d %s", r.status, r.raw)
	}
	c, err := fx.st.GetClient(context.Background(), "spa")
	if err != nil || c.SecretHash != nil {
		t.Errorf("a client without a secret is not public: %+v, %v", c, err)
	}
}

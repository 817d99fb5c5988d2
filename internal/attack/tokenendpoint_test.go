package attack

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTokenEndpointAttacks abuses client authentication, grants, scopes,
// refresh tokens, codes and request parsing of the token endpoint.
func TestTokenEndpointAttacks(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	const cb = "https://app.example/cb"
	secretA := g.createClient("client-a", "--first-party", "--grant", "password", "--grant", "refresh_token",
		"--grant", "client_credentials", "--grant", "authorization_code", "--redirect-uri", cb,
		"--scope", "charts", "--scope", "airports")
	secretB := g.createClient("client-b", "--first-party", "--grant", "password", "--grant", "refresh_token",
		"--grant", "authorization_code", "--redirect-uri", cb, "--scope", "charts", "--scope", "airports")
	// A public client may not even be registered with client_credentials.
	g.createClient("public-app", "--public", "--grant", "authorization_code", "--grant", "refresh_token",
		"--redirect-uri", cb, "--scope", "charts")
	secretN := g.createClient("narrow", "--grant", "client_credentials", "--scope", "charts")
	g.addUser("alice", "alice password 1")

	cc := url.Values{"grant_type": {"client_credentials"}}
	t.Run("client authentication", func(t *testing.T) {
		for name, c := range map[string]struct{ id, secret string }{
			"wrong secret":               {"client-a", secretB},
			"empty secret":               {"client-a", ""},
			"unknown client":             {"nobody", secretA},
			"secret with a suffix":       {"client-a", secretA + "x"},
			"secret prefix":              {"client-a", secretA[:len(secretA)-1]},
			"client id in another case":  {"CLIENT-A", secretA},
			"client id with a space pad": {"client-a ", secretA},
		} {
			t.Run(name, func(t *testing.T) {
				r := g.postForm("/token", cc, c.id, c.secret)
				if r.status != http.StatusUnauthorized || parseToken(t, r).Error != "invalid_client" {
					t.Errorf("%d %s", r.status, r.body)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("invalid_client without WWW-Authenticate")
				}
				if strings.Contains(r.body, secretA) || strings.Contains(r.body, secretB) {
					t.Error("the error echoes a secret")
				}
			})
		}
		wrong := g.postForm("/token", cc, "client-a", secretB)
		unknown := g.postForm("/token", cc, "nobody", secretB)
		if wrong.body != unknown.body {
			t.Errorf("wrong secret and unknown client answer differently (client enumeration):\n%s\n%s", wrong.body, unknown.body)
		}
	})
	t.Run("public client cannot use client_credentials", func(t *testing.T) {
		for _, r := range []response{
			g.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"public-app"}}, "", ""),
			g.postForm("/token", cc, "public-app", ""),
		} {
			if r.status == http.StatusOK {
				t.Fatalf("a public client got a client_credentials token: %s", r.body)
			}
		}
	})
	t.Run("grant not enabled", func(t *testing.T) {
		for _, gt := range []string{"password", "refresh_token", "authorization_code", "a2a", "admin", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer"} {
			f := url.Values{"grant_type": {gt}, "username": {"alice"}, "password": {"alice password 1"}, "refresh_token": {"x"}, "code": {"x"}}
			if st, code := g.tokenError("narrow", secretN, f); code != "unauthorized_client" && code != "unsupported_grant_type" {
				t.Errorf("%s: %d %s", gt, st, code)
			}
		}
	})
	t.Run("scope escalation", func(t *testing.T) {
		if _, code := g.tokenError("narrow", secretN, url.Values{"grant_type": {"client_credentials"}, "scope": {"charts airports"}}); code != "invalid_scope" {
			t.Errorf("asking for an undeclared scope: %s", code)
		}
		if _, code := g.tokenError("narrow", secretN, url.Values{"grant_type": {"client_credentials"}, "scope": {"unknown-scope"}}); code != "invalid_scope" {
			t.Errorf("asking for an unknown scope: %s", code)
		}
		pw := g.token("client-a", secretA, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice password 1"}, "scope": {"charts"}})
		if pw.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		st, code := g.tokenError("client-a", secretA, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pw.RefreshToken}, "scope": {"charts airports"}})
		if code != "invalid_scope" {
			t.Errorf("refresh widening the scope: %d %s", st, code)
		}
	})
	t.Run("refresh token of A used by B", func(t *testing.T) {
		pw := g.token("client-a", secretA, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice password 1"}})
		if _, code := g.tokenError("client-b", secretB, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pw.RefreshToken}}); code != "invalid_grant" {
			t.Errorf("B refreshing A's token: %s", code)
		}
		if r := g.bearer("/v1/charts/x", pw.AccessToken); r.status != http.StatusOK {
			t.Errorf("A's access token after B's attempt: %d", r.status)
		}
	})
	t.Run("refresh token reuse revokes the session", func(t *testing.T) {
		first := g.token("client-a", secretA, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice password 1"}})
		second := g.token("client-a", secretA, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}})
		if _, code := g.tokenError("client-a", secretA, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}); code != "invalid_grant" {
			t.Errorf("reused refresh token: %s", code)
		}
		eventually(t, "the rotated session's access token is refused", func() bool {
			return g.bearer("/v1/charts/x", second.AccessToken).status == http.StatusUnauthorized
		})
		if _, code := g.tokenError("client-a", secretA, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}}); code != "invalid_grant" {
			t.Errorf("refresh token of a revoked session: %s", code)
		}
	})

	b := g.browser()
	g.login(b, "alice", "alice password 1", "")
	verifier, challenge := pkce("a-verifier-that-is-long-enough-to-be-valid-0123456789")
	exchange := func(id, secret string, f url.Values) response {
		f.Set("grant_type", "authorization_code")
		return g.postForm("/token", f, id, secret)
	}
	t.Run("code replay revokes what the code gave", func(t *testing.T) {
		code := g.code(b, "client-a", cb, challenge, "charts")
		f := url.Values{"code": {code}, "redirect_uri": {cb}, "code_verifier": {verifier}}
		first := exchange("client-a", secretA, f)
		if first.status != http.StatusOK {
			t.Fatalf("exchange: %d %s", first.status, first.body)
		}
		tok := parseToken(t, first)
		if r := exchange("client-a", secretA, f); r.status == http.StatusOK || parseToken(t, r).Error != "invalid_grant" {
			t.Errorf("replayed code: %d %s", r.status, r.body)
		}
		eventually(t, "the access token of a replayed code is refused", func() bool {
			return g.bearer("/v1/charts/x", tok.AccessToken).status == http.StatusUnauthorized
		})
		if _, code := g.tokenError("client-a", secretA, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); code != "invalid_grant" {
			t.Errorf("refresh token of a replayed code: %s", code)
		}
	})
	for name, mod := range map[string]func(f url.Values) (string, string){
		"different redirect_uri":        func(f url.Values) (string, string) { f.Set("redirect_uri", cb+"/other"); return "client-a", secretA },
		"redirect_uri with extra query": func(f url.Values) (string, string) { f.Set("redirect_uri", cb+"?x=1"); return "client-a", secretA },
		"no redirect_uri":               func(f url.Values) (string, string) { f.Del("redirect_uri"); return "client-a", secretA },
		"verifier mismatch":             func(f url.Values) (string, string) { f.Set("code_verifier", verifier+"x"); return "client-a", secretA },
		"verifier missing":              func(f url.Values) (string, string) { f.Del("code_verifier"); return "client-a", secretA },
		"challenge as the verifier":     func(f url.Values) (string, string) { f.Set("code_verifier", challenge); return "client-a", secretA },
		"code of another client":        func(f url.Values) (string, string) { return "client-b", secretB },
	} {
		t.Run("code with "+name, func(t *testing.T) {
			code := g.code(b, "client-a", cb, challenge, "charts")
			f := url.Values{"code": {code}, "redirect_uri": {cb}, "code_verifier": {verifier}}
			id, secret := mod(f)
			if r := exchange(id, secret, f); r.status == http.StatusOK || parseToken(t, r).Error != "invalid_grant" && parseToken(t, r).Error != "invalid_request" {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
	t.Run("public client without PKCE", func(t *testing.T) {
		q := url.Values{"response_type": {"code"}, "client_id": {"public-app"}, "redirect_uri": {cb}, "state": {"s"}}
		r := g.page(b, http.MethodGet, "/authorize?"+q.Encode(), nil)
		if r.status == http.StatusOK {
			u := g.authorize(b, q)
			if c := u.Query().Get("code"); c != "" {
				if x := exchange("", "", url.Values{"client_id": {"public-app"}, "code": {c}, "redirect_uri": {cb}}); x.status == http.StatusOK {
					t.Error("a public client exchanged a code without PKCE")
				}
			}
		} else if loc := r.header.Get("Location"); !strings.Contains(loc, "error=") {
			t.Errorf("authorize without PKCE for a public client: %d %s", r.status, loc)
		}
	})
	t.Run("plain PKCE refused", func(t *testing.T) {
		q := url.Values{"response_type": {"code"}, "client_id": {"public-app"}, "redirect_uri": {cb}, "state": {"s"},
			"code_challenge": {verifier}, "code_challenge_method": {"plain"}}
		r := g.page(b, http.MethodGet, "/authorize?"+q.Encode(), nil)
		if loc := r.header.Get("Location"); r.status == http.StatusOK || !strings.Contains(loc, "error=invalid_request") {
			t.Errorf("plain PKCE: %d %s", r.status, loc)
		}
	})

	t.Run("request parsing", func(t *testing.T) {
		post := func(ct, body string, hdr ...string) response {
			req, _ := http.NewRequest(http.MethodPost, g.base+"/token", strings.NewReader(body))
			req.Header.Set("Content-Type", ct)
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Add(hdr[i], hdr[i+1])
			}
			return g.do(req)
		}
		form := "application/x-www-form-urlencoded"
		basicA := "Basic " + basic("client-a", secretA)
		cases := []struct {
			name   string
			ct     string
			body   string
			hdr    []string
			status int
		}{
			{"grant_type twice", form, "grant_type=client_credentials&grant_type=password", []string{"Authorization", basicA}, 400},
			{"scope twice", form, "grant_type=client_credentials&scope=charts&scope=airports", []string{"Authorization", basicA}, 400},
			{"client_id twice", form, "grant_type=client_credentials&client_id=client-a&client_id=client-b&client_secret=" + secretA, nil, 400},
			{"Basic and body secret", form, "grant_type=client_credentials&client_id=client-a&client_secret=" + secretA, []string{"Authorization", basicA}, 400},
			{"Basic and a different body client_id", form, "grant_type=client_credentials&client_id=client-b", []string{"Authorization", basicA}, 400},
			{"two Authorization headers", form, "grant_type=client_credentials", []string{"Authorization", basicA, "Authorization", basicA}, 400},
			{"bearer instead of Basic", form, "grant_type=client_credentials", []string{"Authorization", "Bearer x.y.z"}, 401},
			{"JSON number", "application/json", `{"grant_type":"client_credentials","client_id":"client-a","client_secret":1}`, nil, 400},
			{"JSON true", "application/json", `{"grant_type":"client_credentials","client_id":"client-a","client_secret":true}`, nil, 400},
			{"JSON object", "application/json", `{"grant_type":{"$ne":""},"client_id":"client-a","client_secret":"` + secretA + `"}`, nil, 400},
			{"JSON array secret", "application/json", `{"grant_type":"client_credentials","client_id":"client-a","client_secret":["` + secretA + `"]}`, nil, 400},
			{"JSON duplicate key", "application/json", `{"grant_type":"client_credentials","client_id":"narrow","client_id":"client-a","client_secret":"` + secretA + `"}`, nil, 400},
			{"JSON trailing data", "application/json", `{"grant_type":"client_credentials","client_id":"client-a","client_secret":"` + secretA + `"}{}`, nil, 400},
			{"JSON array body", "application/json", `[]`, nil, 400},
			{"JSON deep nesting", "application/json", `{"scope":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, nil, 400},
			{"text/plain", "text/plain", "grant_type=client_credentials", []string{"Authorization", basicA}, 400},
			{"bad percent-encoding", form, "grant_type=client_credentials&scope=%zz", []string{"Authorization", basicA}, 400},
			{"huge form body", form, "grant_type=client_credentials&pad=" + strings.Repeat("a", 1<<20), []string{"Authorization", basicA}, 413},
			{"huge JSON body", "application/json", `{"pad":"` + strings.Repeat("a", 1<<20) + `"}`, nil, 413},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := post(c.ct, c.body, c.hdr...)
				if r.status != c.status {
					t.Errorf("status %d, want %d: %s", r.status, c.status, r.body)
				}
				var e struct{ Error, AccessToken string }
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
					t.Errorf("not an RFC 6749 error body: %q", r.body)
				}
				if strings.Contains(r.body, secretA) {
					t.Error("the error echoes the secret")
				}
			})
		}
		t.Run("credentials in the query string are not used", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, g.base+"/token?client_id=client-a&client_secret="+url.QueryEscape(secretA)+"&grant_type=client_credentials", strings.NewReader(""))
			req.Header.Set("Content-Type", form)
			if r := g.do(req); r.status == http.StatusOK {
				t.Error("the token endpoint took credentials from the query string")
			}
		})
		t.Run("GET is refused", func(t *testing.T) {
			r := g.get("/token?grant_type=client_credentials", "Authorization", basicA)
			if r.status == http.StatusOK {
				t.Error("GET /token issued a token")
			}
		})
	})
}

package attack

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestRevokeAndIntrospectNeedTheOwningClient presents one client's tokens
// to /revoke and /introspect as another client, and as nobody.
func TestRevokeAndIntrospectNeedTheOwningClient(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	secretA := g.createClient("client-a", "--first-party", "--grant", "password", "--grant", "refresh_token", "--scope", "charts")
	secretB := g.createClient("client-b", "--grant", "client_credentials", "--scope", "charts")
	g.createClient("public-app", "--public", "--grant", "authorization_code", "--redirect-uri", "https://app.example/cb", "--scope", "charts")
	g.addUser("alice", "alice password 1")
	tok := g.token("client-a", secretA, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice password 1"}})

	for _, path := range []string{"/introspect", "/revoke"} {
		for _, token := range []string{tok.AccessToken, tok.RefreshToken} {
			t.Run(path+" without client authentication", func(t *testing.T) {
				r := g.postForm(path, url.Values{"token": {token}}, "", "")
				if r.status != http.StatusUnauthorized {
					t.Errorf("%d %s", r.status, r.body)
				}
			})
			t.Run(path+" with a wrong secret", func(t *testing.T) {
				if r := g.postForm(path, url.Values{"token": {token}}, "client-a", secretB); r.status != http.StatusUnauthorized {
					t.Errorf("%d %s", r.status, r.body)
				}
			})
			t.Run(path+" as a public client", func(t *testing.T) {
				r := g.postForm(path, url.Values{"token": {token}, "client_id": {"public-app"}}, "", "")
				if strings.Contains(r.body, "alice") || strings.Contains(r.body, `"active":true`) {
					t.Errorf("%d %s", r.status, r.body)
				}
			})
		}
	}
	t.Run("introspection by another client", func(t *testing.T) {
		for _, token := range []string{tok.AccessToken, tok.RefreshToken} {
			r := g.postForm("/introspect", url.Values{"token": {token}}, "client-b", secretB)
			var res map[string]any
			json.Unmarshal([]byte(r.body), &res)
			if res["active"] == true || strings.Contains(r.body, "alice") || strings.Contains(r.body, "client-a") {
				t.Errorf("client-b learns about client-a's token: %d %s", r.status, r.body)
			}
		}
	})
	t.Run("introspection by the owner", func(t *testing.T) {
		r := g.postForm("/introspect", url.Values{"token": {tok.AccessToken}}, "client-a", secretA)
		var res map[string]any
		json.Unmarshal([]byte(r.body), &res)
		if res["active"] != true || res["client_id"] != "client-a" {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
	t.Run("revocation by another client", func(t *testing.T) {
		for _, token := range []string{tok.AccessToken, tok.RefreshToken} {
			g.postForm("/revoke", url.Values{"token": {token}}, "client-b", secretB)
		}
		g.postForm("/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {"public-app"}}, "", "")
		if r := g.bearer("/v1/charts/x", tok.AccessToken); r.status != http.StatusOK {
			t.Errorf("client-a's token after client-b's revocation attempt: %d", r.status)
		}
		if r := g.postForm("/introspect", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}, "client-a", secretA); !strings.Contains(r.body, `"active":true`) {
			t.Errorf("client-a's refresh token after client-b's revocation attempt: %s", r.body)
		}
	})
	t.Run("revocation by the owner", func(t *testing.T) {
		if r := g.postForm("/revoke", url.Values{"token": {tok.RefreshToken}}, "client-a", secretA); r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		eventually(t, "the session's access token is refused", func() bool {
			return g.bearer("/v1/charts/x", tok.AccessToken).status == http.StatusUnauthorized
		})
	})
}

// TestCORSAttacks sends cross-origin requests and preflights from origins
// no client registered.
func TestCORSAttacks(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	secret := g.createClient("spa", "--grant", "client_credentials", "--scope", "charts", "--origin", "https://good.example")
	tok := g.token("spa", secret, url.Values{"grant_type": {"client_credentials"}}).AccessToken
	// Clients registered while the gateway runs reach its origin list
	// within a few seconds.
	eventually(t, "the registered origin is served", func() bool {
		r := g.bearer("/v1/charts/x", tok, "Origin", "https://good.example")
		return r.status == http.StatusOK && r.header.Get("Access-Control-Allow-Origin") == "https://good.example"
	})
	bad := []string{"https://evil.example", "null", "https://good.example.evil.example", "https://evil.example/https://good.example",
		"http://good.example", "https://good.example:8443", "https://GOOD.example.evil", "*", "https://good.example\r\nX-Evil: 1"}
	for _, origin := range bad {
		t.Run("origin "+origin, func(t *testing.T) {
			if strings.ContainsAny(origin, "\r\n") {
				r := g.rawGet("/v1/charts/x", "Authorization: Bearer "+tok, "Origin: "+strings.ReplaceAll(origin, "\r\n", ""))
				if r.header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("ACAO %q", r.header.Get("Access-Control-Allow-Origin"))
				}
				return
			}
			before := g.up.count()
			for _, path := range []string{"/v1/charts/x", "/v1/ext/x"} {
				r := g.bearer(path, tok, "Origin", origin)
				if acao := r.header.Get("Access-Control-Allow-Origin"); acao != "" {
					t.Errorf("%s: Access-Control-Allow-Origin %q", path, acao)
				}
				if r.status == http.StatusOK {
					t.Errorf("%s: a request from %s was served", path, origin)
				}
				pre, _ := http.NewRequest(http.MethodOptions, g.base+path, nil)
				pre.Header.Set("Origin", origin)
				pre.Header.Set("Access-Control-Request-Method", "GET")
				pre.Header.Set("Access-Control-Request-Headers", "authorization")
				pr := g.do(pre)
				if acao := pr.header.Get("Access-Control-Allow-Origin"); acao != "" {
					t.Errorf("%s: preflight allowed with %q (%d)", path, acao, pr.status)
				}
			}
			if r := g.get("/v1/public/x", "Origin", origin); r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("public route: ACAO %q", r.header.Get("Access-Control-Allow-Origin"))
			}
			if n := g.up.count() - before; n != 1 {
				t.Errorf("the upstream saw %d requests (only the public one may pass)", n)
			}
		})
	}
	t.Run("no credentials are allowed cross-origin", func(t *testing.T) {
		r := g.bearer("/v1/charts/x", tok, "Origin", "https://good.example")
		if r.header.Get("Access-Control-Allow-Credentials") == "true" {
			t.Error("Access-Control-Allow-Credentials: true")
		}
	})
}

var seriesLine = regexp.MustCompile(`(?m)^clearance_[a-z_]+\{[^}]*\}`)

// metricSeries returns the clearance_* series on /metrics.
func (g *gateway) metricSeries() map[string]bool {
	g.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.admin+"/metrics", nil)
	r := g.do(req)
	out := map[string]bool{}
	for _, m := range seriesLine.FindAllString(r.body, -1) {
		out[m] = true
	}
	return out
}

// TestMetricsLabelsIgnoreRequestPaths floods the gateway with random
// paths, methods and bad tokens and checks that /metrics grows no series
// and never shows a request's path.
func TestMetricsLabelsIgnoreRequestPaths(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	tok := gatewayToken(g)
	warm := func(tag string) {
		for _, p := range []string{"/v1/charts/" + tag, "/nothing/" + tag, "/v1/public/" + tag, "/portal/" + tag, "/token/" + tag} {
			g.get(p)
			g.bearer(p, tok)
			g.bearer(p, "x.y.z")
		}
		g.rawGet("/v1/charts/" + tag + "?access_token=" + tag)
	}
	warm("warm")
	before := g.metricSeries()
	for i := range 60 {
		tag := fmt.Sprintf("flood%08x", rand.Uint32())
		warm(tag)
		g.raw(fmt.Sprintf("M%d /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", i, tag, g.host))
	}
	after := g.metricSeries()
	for s := range after {
		if strings.Contains(s, "flood") || strings.Contains(s, "warm") {
			t.Errorf("a request path reached a metric label: %s", s)
		}
		if !before[s] && !strings.Contains(s, `code="5xx"`) && !strings.Contains(s, `code="2xx"`) && !strings.Contains(s, `code="4xx"`) {
			t.Errorf("new series after the flood: %s", s)
		}
	}
	if len(after) > len(before)+10 {
		t.Errorf("%d series before the flood, %d after", len(before), len(after))
	}
}

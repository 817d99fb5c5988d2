package attack

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEvery400CarriesTheBearerChallenge: RFC 6750 §3. A request whose
// token is sent twice, a bare "Authorization: Bearer", or a malformed
// Authorization header gets 400 invalid_request with
// WWW-Authenticate: Bearer realm="…", error="invalid_request",
// error_description="…" (the README's table), and never reaches the
// upstream.
func TestEvery400CarriesTheBearerChallenge(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	secret := g.createClient("backend", "--grant", "client_credentials", "--scope", "charts")
	tok := g.token("backend", secret, url.Values{"grant_type": {"client_credentials"}}).AccessToken
	before := g.up.count()
	for _, tc := range []struct {
		name   string
		target string
		lines  []string
		desc   string
	}{
		{"token in the header and the query", "/v1/charts/x?access_token=" + tok, []string{"Authorization: Bearer " + tok},
			"token in both Authorization header and access_token parameter"},
		{"bare Bearer", "/v1/charts/x", []string{"Authorization: Bearer"}, "empty bearer token"},
		{"Bearer and a space", "/v1/charts/x", []string{"Authorization: Bearer "}, "empty bearer token"},
		{"empty Authorization", "/v1/charts/x", []string{"Authorization:"}, "malformed Authorization header"},
		{"two Authorization headers", "/v1/charts/x", []string{"Authorization: Bearer " + tok, "Authorization: Bearer " + tok},
			"multiple Authorization headers"},
		{"a token with spaces", "/v1/charts/x", []string{"Authorization: Bearer " + tok + " more"}, "malformed bearer token"},
		{"two query tokens", "/v1/charts/x?access_token=" + tok + "&access_token=" + tok, nil, "multiple access_token parameters"},
		{"bare Bearer and a query token", "/v1/charts/x?access_token=" + tok, []string{"Authorization: Bearer"},
			"token in both Authorization header and access_token parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.rawGet(tc.target, tc.lines...)
			want := `Bearer realm="clearance", error="invalid_request", error_description="` + tc.desc + `"`
			if r.status != http.StatusBadRequest || r.header.Get("WWW-Authenticate") != want {
				t.Fatalf("%d, WWW-Authenticate %q; want 400 and %q\n%s", r.status, r.header.Get("WWW-Authenticate"), want, r.body)
			}
			var body map[string]string
			if json.Unmarshal([]byte(r.body), &body) != nil || body["error"] != "invalid_request" || body["error_description"] != tc.desc {
				t.Fatalf("body %s", r.body)
			}
			if strings.Contains(r.header.Get("WWW-Authenticate"), tok) || strings.Contains(r.body, tok) {
				t.Fatal("the answer echoes the token")
			}
		})
	}
	if got := g.up.count(); got != before {
		t.Errorf("the upstream received %d refused requests", got-before)
	}
}

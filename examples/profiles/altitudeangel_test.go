package profiles

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// partnerSecret is the secret of a client declared in gateway.yaml from the
// environment: it has every character that breaks a secret sent unencoded.
const partnerSecret = "p+ss&w%rd=42/x y"

// TestAltitudeAngel follows the altitudeangel seed: a form body with a
// URL-encoded secret and space-delimited scopes to /oauth/v2/token, a
// 15-minute token that comes with a refresh token on every grant, 401
// invalid_scope for a scope the client never declared, and 401 at the API
// for a token lacking a route's scope.
func TestAltitudeAngel(t *testing.T) {
	p := deriveProfile(t, "altitudeangel", `
clients:
  - id: partner-backend
    name: Partner backend
    secret: ${AA_PARTNER_SECRET}
    grants: [client_credentials, refresh_token]
    scopes: [query_mapdata, query_mapairdata]
`, map[string]string{"AA_PARTNER_SECRET": partnerSecret})
	plannerSecret := p.createClient("--id", "flight-planner", "--name", "Flight planner",
		"--grant", "client_credentials", "--grant", "refresh_token", "--grant", "authorization_code",
		"--redirect-uri", "https://planner.example/callback", "--scope", "query_mapdata")
	p.serve()

	// Step 1: the documented request, a form body with client_id,
	// client_secret (URL-encoded) and space-delimited scopes.
	body := "grant_type=client_credentials&client_id=partner-backend&client_secret=" + url.QueryEscape(partnerSecret) +
		"&scope=" + url.QueryEscape("query_mapdata query_mapairdata")
	if !strings.Contains(body, "p%2Bss%26w%25rd%3D42%2Fx+y") || !strings.Contains(body, "query_mapdata+query_mapairdata") {
		t.Fatalf("the request is not encoded as documented: %s", body)
	}
	r := p.post("/oauth/v2/token", formType, body)
	// 15 minutes, and a refresh token even for client_credentials.
	assertToken(t, r, 15*time.Minute, "query_mapdata query_mapairdata", true)
	partner, partnerRefresh := r.str("access_token"), r.str("refresh_token")

	t.Run("the same secret in HTTP Basic, form-encoded as x/oauth2 sends it", func(t *testing.T) {
		r := p.post("/oauth/v2/token", formType, "grant_type=client_credentials&scope=query_mapairdata",
			"Authorization", basic("partner-backend", partnerSecret))
		assertToken(t, r, 15*time.Minute, "query_mapairdata", true)
	})
	t.Run("a secret pasted without encoding is a malformed form", func(t *testing.T) {
		// "%rd" is no escape: the body is not a form at all.
		r := p.post("/oauth/v2/token", formType, "grant_type=client_credentials&client_id=partner-backend&client_secret="+partnerSecret)
		assertError(t, r, http.StatusBadRequest, "invalid_request")
	})
	t.Run("a wrong secret is 401 invalid_client", func(t *testing.T) {
		r := p.post("/oauth/v2/token", formType, "grant_type=client_credentials&client_id=partner-backend&client_secret=p%2Bss")
		assertError(t, r, http.StatusUnauthorized, "invalid_client")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("no WWW-Authenticate")
		}
	})
	t.Run("a JSON body is refused", func(t *testing.T) {
		r := p.post("/oauth/v2/token", "application/json",
			`{"grant_type":"client_credentials","client_id":"partner-backend","client_secret":"`+partnerSecret+`"}`)
		assertError(t, r, http.StatusBadRequest, "invalid_request")
		if !strings.Contains(r.str("error_description"), "application/x-www-form-urlencoded") {
			t.Errorf("the description does not say what is accepted: %s", r.raw)
		}
	})

	// Step 2: a scope the client never declared is 401 invalid_scope at the
	// token endpoint.
	r = p.post("/oauth/v2/token", formType, url.Values{"grant_type": {"client_credentials"},
		"client_id": {"flight-planner"}, "client_secret": {plannerSecret}, "scope": {"query_mapdata manage_users"}}.Encode())
	assertError(t, r, http.StatusUnauthorized, "invalid_scope")

	// Step 3: the planner's token carries query_mapdata only.
	r = p.post("/oauth/v2/token", formType, url.Values{"grant_type": {"client_credentials"},
		"client_id": {"flight-planner"}, "client_secret": {plannerSecret}, "scope": {"query_mapdata"}}.Encode())
	assertToken(t, r, 15*time.Minute, "query_mapdata", true)
	planner := r.str("access_token")

	// Step 4: the API. Map data needs query_mapdata, map air data
	// query_mapairdata; a token lacking the route's scope gets 401.
	if r := p.get("/v1/airports/EGLL", planner); r.status != http.StatusOK || r.str("icao") != "EGLL" {
		t.Errorf("map data with query_mapdata: %d %s", r.status, r.raw)
	}
	r = p.get("/v1/airspace", planner)
	assertError(t, r, http.StatusUnauthorized, "insufficient_scope")
	if www := r.header.Get("WWW-Authenticate"); !strings.Contains(www, `error="insufficient_scope"`) || !strings.Contains(www, `scope="query_mapairdata"`) {
		t.Errorf("WWW-Authenticate = %q", www)
	}
	if r := p.get("/v1/airspace", partner); r.status != http.StatusOK || !strings.HasPrefix(r.raw, "[") {
		t.Errorf("map air data with query_mapairdata: %d %s", r.status, r.raw)
	}
	assertError(t, p.get("/v1/airspace", ""), http.StatusUnauthorized, "unauthorized")

	// Step 5: the refresh token buys a new pair; the used one is spent.
	r = p.post("/oauth/v2/token", formType, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {partnerRefresh}}.Encode(),
		"Authorization", basic("partner-backend", partnerSecret))
	assertToken(t, r, 15*time.Minute, "query_mapdata query_mapairdata", true)
	if r.str("refresh_token") == partnerRefresh || r.str("access_token") == partner {
		t.Error("refresh returned the same tokens")
	}
	if r := p.get("/v1/airspace", r.str("access_token")); r.status != http.StatusOK {
		t.Errorf("refreshed token: %d %s", r.status, r.raw)
	}
	assertError(t, p.get("/v1/airspace", partner), http.StatusUnauthorized, "invalid_token")
}

package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestCheckers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func(string) error
		ok    []string
		bad   []string
	}{
		{"client id", CheckClientID,
			[]string{"demo", "demo-backend", "flight deck app", "a", "0-9", strings.Repeat("x", 64)},
			[]string{"", " demo", "demo ", "Demo", "demo_app", "démo", "a/b", strings.Repeat("x", 65)}},
		{"scope token", CheckScopeToken,
			[]string{"user", "query_mapdata", "api:read", "https://api.example/x", "!#[]~"},
			[]string{"", "a b", `a"b`, `a\b`, "tab\there", "ünï"}},
		{"route name", CheckRouteName,
			[]string{"mapdata", "nav-v1", "a_b", "0"},
			[]string{"", "Map", "map data", "map.data", "路由"}},
		{"origin", CheckOrigin,
			[]string{"https://app.example.com", "http://localhost:3000", "capacitor://localhost", "http://[::1]:8080"},
			[]string{"*", "null", "", "app.example.com", "https://app.example.com/", "https://app.example.com/x",
				"https://app.example.com?x", "https://app.example.com#x", "https://u@app.example.com", "https://App.example.com", "https://:80"}},
		{"redirect URI", CheckRedirectURI,
			[]string{"https://app.example.com/cb", "http://localhost:8080/cb?x=1", "com.example.app:/oauth", "urn:ietf:wg:oauth:2.0:oob"},
			[]string{"", "/cb", "cb", "https://app.example.com/cb#frag", "https:///cb", "http://%zz"}},
		{"http URL without query", func(s string) error { return checkHTTPURL(s, false) },
			[]string{"http://u", "https://api.example.com:8443/base/"},
			[]string{"", "u", "/x", "ftp://u", "http://", "https://user:pw@u", "http://u/?q", "http://u/?", "http://u#f"}},
		{"listen address", checkHostPort,
			[]string{":8080", "127.0.0.1:9090", "[::1]:0", "localhost:65535"},
			[]string{"8080", "localhost", ":http", ":65536", ":-1", "::1:80", ":08080"}},
		{"path", checkPath,
			[]string{"/", "/token", "/api/v1/", "/.well-known/x"},
			[]string{"", "token", "/a/../b", "/a?b", "/a#b", "/a b", "/a\x00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range tt.ok {
				if err := tt.check(s); err != nil {
					t.Errorf("%q refused: %v", s, err)
				}
			}
			for _, s := range tt.bad {
				if err := tt.check(s); err == nil {
					t.Errorf("%q accepted", s)
				}
			}
		})
	}
}

func TestGrantTables(t *testing.T) {
	t.Parallel()
	for _, g := range Grants() {
		if !KnownGrant(g) {
			t.Errorf("%s is listed but not known", g)
		}
	}
	if KnownGrant("device_code") || KnownGrant("") {
		t.Error("unknown grants are known")
	}
	var first, secret []string
	for _, g := range Grants() {
		if FirstPartyGrant(g) {
			first = append(first, g)
		}
		if SecretGrant(g) {
			secret = append(secret, g)
		}
	}
	if !slices.Equal(first, []string{"password", "admin"}) ||
		!slices.Equal(secret, []string{"client_credentials", "password", "a2a", "admin"}) {
		t.Errorf("first-party = %q, secret = %q", first, secret)
	}
}

func TestRouteOverlapsGatewayPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		route, own string
		want       bool
	}{
		{"/token", "/token", true},
		{"/token/", "/token", true},
		{"/token/x", "/token", true},
		{"/tokens", "/token", false},
		{"/", "/token", false}, // a catch-all route is allowed; the gateway's exact paths win
		{"/account/", "/account/token", false},
		{"/.well-known", "/.well-known/", true},
		{"/.well-known/jwks.json", "/.well-known/", true},
		{"/portal", "/portal", true},
		{"/portals", "/portal", false},
	}
	for _, tt := range tests {
		if got := overlaps(tt.route, tt.own); got != tt.want {
			t.Errorf("overlaps(%q, %q) = %v, want %v", tt.route, tt.own, got, tt.want)
		}
	}
}

func TestProblemsFormatting(t *testing.T) {
	t.Parallel()
	ps := Problems{
		{File: "gateway.yaml", Line: 3, Col: 7, Msg: "listen: bad"},
		{File: "gateway.yaml", Line: 9, Col: 1, Msg: `unknown key "x"`},
	}
	want := "gateway.yaml:3:7: listen: bad\ngateway.yaml:9:1: unknown key \"x\""
	if ps.Error() != want {
		t.Errorf("Error() = %q", ps.Error())
	}
	wrapped := fmt.Errorf("reload: %w", ps)
	if got := FormatProblems(wrapped); got != want+"\n" {
		t.Errorf("FormatProblems(wrapped) = %q", got)
	}
	if FormatProblems(nil) != "" || FormatProblems(errors.New("boom")) != "boom\n" {
		t.Error("FormatProblems of nil or a plain error")
	}
	sorted := tidy([]Problem{ps[1], ps[0], ps[1]})
	if !slices.Equal(sorted, ps) {
		t.Errorf("tidy = %v: sorted by position, duplicates dropped", sorted)
	}
}

func TestRevalidateChecksConfigsBuiltInCode(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "routes:\n  - {name: r, path: /r, upstream: 'http://u'}\n")
	c.Routes[0].Upstream = "not a url"
	c.TrustedIssuers = append(c.TrustedIssuers, TrustedIssuer{Issuer: "https://idp", JWKSURL: "https://idp/k",
		Audience: StringOrSet{"x"}, Algorithms: []string{"HS256"}, RefreshInterval: Duration(1e9), MinRefetchInterval: Duration(1e9)})
	err := c.Revalidate()
	want := `t.yaml:1:1: routes[0].upstream: "not a url" must be an absolute http or https URL` + "\n" +
		`t.yaml:1:1: trusted_issuers[0].algorithms[0]: "HS256" is not allowed: only asymmetric algorithms (RS*, PS*, ES*, EdDSA)`
	if err == nil || err.Error() != want {
		t.Errorf("Revalidate = %v, want\n%s", err, want)
	}
}

func TestValidateClient(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "profile: capa\n")
	tests := []struct {
		name      string
		cl        Client
		hasSecret bool
		want      []string // every line of the joined error, in order; nil: valid
	}{
		{"backend with a generated secret", Client{ID: "charts backend", Name: "Charts", Grants: []string{"client_credentials"}, Scopes: []string{"user"}}, true, nil},
		// a2a needs a secret, not first_party: the token endpoint refuses
		// it to a third party, the command line and the portal mint it.
		{"a2a on a third-party client", Client{ID: "partner", Name: "Partner", Grants: []string{"a2a"}, Scopes: []string{"user"}}, true, nil},
		{"a2a on a public client", Client{ID: "spa", Name: "SPA", Grants: []string{"a2a"}}, false, []string{"secret: required for the a2a grant"}},
		{"public browser app", Client{ID: "spa", Name: "SPA", Grants: []string{"authorization_code", "refresh_token"},
			RedirectURIs: []string{"https://app.example/cb"}, AllowedOrigins: []string{"https://app.example"}}, false, nil},
		{"every mistake at once", Client{ID: "Bad_ID", Grants: []string{"client_credentials", "magic", "password", "implicit"},
			Scopes: []string{"user", "charts"}, AllowedOrigins: []string{"*"}}, false, []string{
			`id: "Bad_ID": a client id is 1 to 64 lower-case letters, digits, dashes and spaces, not starting or ending with a space`,
			"name: required",
			`grants[1]: unknown grant "magic" (known: client_credentials, authorization_code, refresh_token, password, implicit, a2a, admin)`,
			"grants[2]: grant password is for first-party clients only: set first_party: true",
			"secret: required for the client_credentials grant",
			`scopes[1]: unknown scope "charts": declare it under scopes:`,
			"redirect_uris: the implicit grant needs at least one redirect URI",
			`allowed_origins[0]: the wildcard origin "*" is not allowed: list each origin`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateClient(c, tt.cl, tt.hasSecret)
			if tt.want == nil {
				if err != nil {
					t.Errorf("ValidateClient: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("ValidateClient accepted the client")
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

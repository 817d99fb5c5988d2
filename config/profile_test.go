package config

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "routes:\n  - {name: r, path: /r/, upstream: 'http://127.0.0.1:9000'}\ntrusted_issuers:\n  - {issuer: 'https://idp.example', jwks_url: 'https://idp.example/jwks'}\n")
	want := Config{
		File:        "t.yaml",
		Listen:      ":8080",
		AdminListen: "127.0.0.1:9090",
		Issuer:      "http://localhost:8080",
		Realm:       "clearance",
		Store:       Store{Driver: "sqlite", DSN: "data/clearance.db"},
		Endpoints:   Endpoints{Token: "/token", Authorize: "/authorize"},
		Tokens: Tokens{
			Alg: "RS256", Audience: "http://localhost:8080",
			AccessTTL: Duration(time.Hour), RefreshTTL: Duration(720 * time.Hour),
			A2ATTL: Duration(8760 * time.Hour), CodeTTL: Duration(5 * time.Minute),
			InvalidScopeStatus: 400, BodyFormats: []string{"form", "json"},
		},
		Routes: []Route{{
			Name: "r", Path: "/r/", Upstream: "http://127.0.0.1:9000",
			InsufficientScopeStatus: 401, Timeout: Duration(30 * time.Second),
			DialTimeout: Duration(5 * time.Second), MaxIdleConns: 256, Metered: true,
		}},
		TrustedIssuers: []TrustedIssuer{{
			Issuer: "https://idp.example", JWKSURL: "https://idp.example/jwks",
			Audience: StringOrSet{"http://localhost:8080"}, Algorithms: []string{"RS256"},
			RefreshInterval: Duration(15 * time.Minute), MinRefetchInterval: Duration(time.Minute),
		}},
		InsufficientScopeStatus: 401,
		Leeway:                  Duration(30 * time.Second),
		TokenCacheSize:          10000,
		Server: Server{
			ReadHeaderTimeout: Duration(10 * time.Second), IdleTimeout: Duration(120 * time.Second),
			MaxHeaderBytes: 64 << 10, ShutdownGrace: Duration(20 * time.Second),
		},
		Log:           Log{Level: "info", Format: "json"},
		Subscriptions: Subscriptions{TTL: Duration(5 * time.Minute), CacheSize: 10000, Timeout: Duration(3 * time.Second)},
	}
	assertConfig(t, c, &want)

	t.Run("an empty mapping is a complete config", func(t *testing.T) {
		c := mustParse(t, "{}\n")
		if c.Listen != ":8080" || c.Store.DSN != "data/clearance.db" || c.Tokens.Audience != c.Issuer {
			t.Errorf("config = %+v", c)
		}
	})
	t.Run("postgres gets no sqlite dsn", func(t *testing.T) {
		c := mustParse(t, "store: {driver: postgres, dsn: 'postgres://db/gw'}\n")
		if c.Store.DSN.Reveal() != "postgres://db/gw" {
			t.Errorf("dsn = %q", c.Store.DSN.Reveal())
		}
	})
	t.Run("audience follows the issuer", func(t *testing.T) {
		c := mustParse(t, "issuer: https://gw.example\ntrusted_issuers:\n  - {issuer: 'https://idp', algorithms: [EdDSA], jwks: '"+ed25519JWKS+"'}\n")
		if c.Tokens.Audience != "https://gw.example" || !slices.Equal(c.TrustedIssuers[0].Audience, []string{"https://gw.example"}) {
			t.Errorf("audience = %q, trusted audience = %q", c.Tokens.Audience, c.TrustedIssuers[0].Audience)
		}
	})
	t.Run("routes inherit the top-level insufficient_scope_status unless they set their own", func(t *testing.T) {
		c := mustParse(t, "insufficient_scope_status: 403\nroutes:\n  - {name: a, path: /a, upstream: 'http://u'}\n  - {name: b, path: /b, upstream: 'http://u', insufficient_scope_status: 401}\n")
		if a, b := c.RouteByName("a"), c.RouteByName("b"); a.InsufficientScopeStatus != 403 || b.InsufficientScopeStatus != 401 {
			t.Errorf("a = %d, b = %d", a.InsufficientScopeStatus, b.InsufficientScopeStatus)
		}
	})
	t.Run("null values count as absent", func(t *testing.T) {
		c := mustParse(t, "listen: ~\ntokens:\n  access_ttl:\nscopes:\n")
		if c.Listen != ":8080" || c.Tokens.AccessTTL.D() != time.Hour || c.Scopes != nil {
			t.Errorf("listen = %q, access_ttl = %v, scopes = %q", c.Listen, c.Tokens.AccessTTL, c.Scopes)
		}
	})
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	if got, want := Profiles(), []string{"altitudeangel", "capa", "navigraph"}; !slices.Equal(got, want) {
		t.Fatalf("Profiles() = %q, want %q", got, want)
	}
	tests := []struct {
		profile string
		token   string
		access  time.Duration
		refresh time.Duration
		a2a     time.Duration
		every   bool
		invalid int
		scopes  []string
		bodies  []string
	}{
		{"capa", "/account/token", 8 * time.Hour, 720 * time.Hour, 8760 * time.Hour, false, 400, []string{"user"}, []string{"json", "form"}},
		{"altitudeangel", "/oauth/v2/token", 15 * time.Minute, 720 * time.Hour, 8760 * time.Hour, true, 401,
			[]string{"access_archive", "talk_tower", "manage_users", "query_mapdata", "query_mapairdata", "manage_flightreports"}, []string{"form"}},
		{"navigraph", "/connect/token", time.Hour, 720 * time.Hour, 8760 * time.Hour, false, 400, []string{"fmsdata"}, []string{"form"}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, "profile: "+tt.profile+"\n")
			tok := c.Tokens
			if c.Profile != tt.profile || c.Endpoints.Token != tt.token || c.Endpoints.Authorize != "/authorize" ||
				tok.AccessTTL.D() != tt.access || tok.RefreshTTL.D() != tt.refresh || tok.A2ATTL.D() != tt.a2a ||
				tok.RefreshOnEveryGrant != tt.every || tok.InvalidScopeStatus != tt.invalid || !slices.Equal(c.Scopes, tt.scopes) ||
				!slices.Equal(tok.BodyFormats, tt.bodies) {
				t.Errorf("profile %s gave endpoints %+v, tokens %+v, scopes %q", tt.profile, c.Endpoints, tok, c.Scopes)
			}
		})
	}

	t.Run("the file's own values win over the profile", func(t *testing.T) {
		t.Parallel()
		c := mustParse(t, `
profile: altitudeangel
endpoints: {authorize: /oauth/v2/authorize}
tokens:
  access_ttl: 5m
  refresh_on_every_grant: false
  invalid_scope_status: 400
  body_formats: [json, form]
scopes: [query_mapdata]
`[1:])
		if c.Endpoints != (Endpoints{Token: "/oauth/v2/token", Authorize: "/oauth/v2/authorize"}) {
			t.Errorf("endpoints = %+v: the profile's token path stays, the file's authorize path is added", c.Endpoints)
		}
		if c.Tokens.AccessTTL.D() != 5*time.Minute || c.Tokens.RefreshOnEveryGrant || c.Tokens.InvalidScopeStatus != 400 ||
			!slices.Equal(c.Tokens.BodyFormats, []string{"json", "form"}) {
			t.Errorf("tokens = %+v", c.Tokens)
		}
		if !slices.Equal(c.Scopes, []string{"query_mapdata"}) {
			t.Errorf("scopes = %q", c.Scopes)
		}
	})
	t.Run("profile from the environment", func(t *testing.T) {
		t.Parallel()
		c, err := parse("t.yaml", []byte("profile: ${P}\n"), env(map[string]string{"P": "navigraph"}), noFiles)
		if err != nil || c.Endpoints.Token != "/connect/token" {
			t.Fatalf("err = %v, config = %+v", err, c)
		}
	})
	t.Run("profile scopes satisfy route scopes", func(t *testing.T) {
		t.Parallel()
		mustParse(t, "profile: navigraph\nroutes:\n  - {name: nav, path: /v1/, upstream: 'http://u', scopes: [fmsdata], subscription: fmsdata}\n")
	})
}

// assertConfig compares two configs field by field through their printed
// form, which covers every field (secrets included, via Reveal).
func assertConfig(t *testing.T, got, want *Config) {
	t.Helper()
	if got.Store.DSN.Reveal() != want.Store.DSN.Reveal() {
		t.Errorf("store.dsn = %q, want %q", got.Store.DSN.Reveal(), want.Store.DSN.Reveal())
	}
	if g, w := fmt.Sprintf("%+v", *got), fmt.Sprintf("%+v", *want); g != w {
		t.Errorf("config:\n got %s\nwant %s", g, w)
	}
}

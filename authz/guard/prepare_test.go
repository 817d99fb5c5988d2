package guard

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/config"
)

// A reload builds the guard's state with Prepare while other components
// build theirs; until commit the running state decides, and abort leaves
// no trace of the prepared one (a neighbour refused the config).
func TestPrepareCommitsOrAbortsWhole(t *testing.T) {
	f := newFixture(t)
	idpTok := mint(t, f.rsa, claims(idpIssuer))
	if err := f.check(t, idpTok); err != nil {
		t.Fatal(err)
	}
	x1 := edSigner(t, "x1")
	second := newJWKSServer(t, jwksJSON(t, x1))
	next := func() *config.Config {
		cfg := testConfig(f.jwks.URL)
		// The running issuer on another schedule: its URL is registered anew.
		cfg.TrustedIssuers[0].RefreshInterval = config.Duration(time.Hour)
		cfg.TrustedIssuers = append(cfg.TrustedIssuers, config.TrustedIssuer{
			Issuer: "https://second.example", JWKSURL: second.URL, Audience: config.StringOrSet{idpAudience},
			Algorithms: []string{"EdDSA"}, RefreshInterval: config.Duration(15 * time.Minute),
			MinRefetchInterval: config.Duration(time.Minute),
		})
		return cfg
	}
	secondTok := mint(t, x1, claims("https://second.example"))

	t.Run("abort", func(t *testing.T) {
		hits := f.jwks.hits.Load()
		_, abort, err := f.guard.Prepare(next())
		if err != nil {
			t.Fatal(err)
		}
		if second.hits.Load() != 1 {
			t.Errorf("the added issuer was fetched %d times while preparing, want 1", second.hits.Load())
		}
		assertErr(t, f.check(t, secondTok), errUntrustedIssuer)
		abort()
		abort() // a second call does nothing
		if f.guard.cache.IsRegistered(second.URL) {
			t.Error("the jwks_url of an aborted config stays registered")
		}
		assertErr(t, f.check(t, secondTok), errUntrustedIssuer)
		// The running issuer's registration is back under its own
		// settings, and its keys follow the issuer again: a rotated kid is
		// found by a refetch.
		if got := f.jwks.hits.Load() - hits; got != 2 {
			t.Errorf("fetches of the running issuer = %d, want 2 (prepared, then restored)", got)
		}
		rotated := ecSigner(t, "e9")
		f.jwks.serve(http.StatusOK, jwksJSON(t, f.rsa, f.ec, f.ed, rotated))
		f.clock.Advance(time.Minute)
		if err := f.check(t, mint(t, rotated, claims(idpIssuer))); err != nil {
			t.Fatalf("running issuer after abort: %v", err)
		}
		if err := f.check(t, idpTok); err != nil {
			t.Fatalf("running issuer after abort: %v", err)
		}
	})

	t.Run("commit", func(t *testing.T) {
		commit, _, err := f.guard.Prepare(next())
		if err != nil {
			t.Fatal(err)
		}
		assertErr(t, f.check(t, secondTok), errUntrustedIssuer) // not in force yet
		commit()
		commit()
		if err := f.check(t, secondTok); err != nil {
			t.Fatalf("added issuer after commit: %v", err)
		}
		if err := f.check(t, idpTok); err != nil {
			t.Fatal(err)
		}
		// Update works again: the lock was released.
		if err := f.guard.Update(testConfig(f.jwks.URL)); err != nil {
			t.Fatal(err)
		}
		assertErr(t, f.check(t, secondTok), errUntrustedIssuer)
	})

	t.Run("refused", func(t *testing.T) {
		bad := testConfig(f.jwks.URL)
		bad.TrustedIssuers[0].Algorithms = []string{"HS256"}
		if _, _, err := f.guard.Prepare(bad); err == nil || !strings.Contains(err.Error(), "HS256") {
			t.Fatalf("Prepare = %v", err)
		}
		// Nothing held: the next Update goes through.
		if err := f.guard.Update(testConfig(f.jwks.URL)); err != nil {
			t.Fatal(err)
		}
	})
}

// Every config the guard refuses, "clearance check" refuses too: the
// refusals of TestUpdateSwapsIssuers and TestDefaultsWithoutOptions,
// written as gateway.yaml.
func TestGuardRefusalsAreConfigProblems(t *testing.T) {
	ed := edSigner(t, "d")
	jwks := strings.ReplaceAll(string(jwksJSON(t, ed)), `"alg":"EdDSA",`, "")
	base := "issuer: https://gw.example\ntrusted_issuers:\n  - issuer: https://inline.example\n    audience: aud\n"
	for name, ti := range map[string]string{
		"inline JWKS that do not parse":   "    jwks: '{not json'\n",
		"inline JWKS without usable keys": "    jwks: '{\"keys\":[]}'\n",
		"Ed25519 key under RS256":         "    jwks: '" + jwks + "'\n",
		"no audience":                     "    jwks: '" + jwks + "'\n    algorithms: [EdDSA]\n    audience: []\n",
		"HS256 configured":                "    jwks: '" + jwks + "'\n    algorithms: [HS256]\n",
		"none configured":                 "    jwks: '" + jwks + "'\n    algorithms: [none]\n",
		"both key sources":                "    jwks: '" + jwks + "'\n    jwks_url: https://idp.example/jwks\n    algorithms: [EdDSA]\n",
		"relative jwks_url":               "    jwks_url: /jwks\n",
		"own issuer":                      "    jwks_url: https://idp.example/jwks\n  - issuer: https://gw.example\n    jwks_url: https://idp.example/jwks\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := config.Parse("t.yaml", []byte(base+ti), func(string) (string, bool) { return "", false }); err == nil {
				t.Error("config validation accepts what the guard refuses")
			}
		})
	}
	if _, err := config.Parse("t.yaml", []byte(base+"    jwks: '"+jwks+"'\n    algorithms: [EdDSA]\n"), func(string) (string, bool) { return "", false }); err != nil {
		t.Errorf("the usable variant is refused: %v", err)
	}
}

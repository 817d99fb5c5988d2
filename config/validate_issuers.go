package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/sigkey"
)

func (v *validator) trustedIssuers(c *Config) {
	seen := map[string]int{}
	urls := map[string]int{} // jwks_url -> first issuer using it
	for i := range c.TrustedIssuers {
		t := &c.TrustedIssuers[i]
		p := fmt.Sprintf("trusted_issuers[%d]", i)
		in := []any{t, &c.TrustedIssuers}
		at := func(ptrs ...any) func(string, ...any) { return v.at(append(ptrs, in...)...) }

		switch {
		case t.Issuer == "":
			at(&t.Issuer)("%s.issuer: required (the iss of the tokens to accept)", p)
		case checkHTTPURL(t.Issuer, false) != nil:
			at(&t.Issuer)("%s.issuer: %v", p, checkHTTPURL(t.Issuer, false))
		case strings.TrimSuffix(t.Issuer, "/") == strings.TrimSuffix(c.Issuer, "/"):
			at(&t.Issuer)("%s.issuer: must differ from the gateway's own issuer", p)
		default:
			if j, dup := seen[t.Issuer]; dup {
				at(&t.Issuer)("%s.issuer: duplicate issuer %s (also trusted_issuers[%d])", p, quote(t.Issuer), j)
			}
			seen[t.Issuer] = i
		}

		// After loading, JWKS holds jwks_file's content: count them once
		// unless the file also wrote jwks.
		sources := 0
		if t.JWKSURL != "" {
			sources++
		}
		if t.JWKS != "" || t.JWKSFile != "" {
			sources++
		}
		if _, both := v.set[&t.JWKS]; both && t.JWKSFile != "" {
			sources++
		}
		if sources != 1 {
			at(&t.JWKSURL, &t.JWKS, &t.JWKSFile)("%s: set exactly one of jwks_url, jwks and jwks_file", p)
		}
		if t.JWKSURL != "" {
			if err := checkHTTPURL(t.JWKSURL, true); err != nil {
				at(&t.JWKSURL)("%s.jwks_url: %v", p, err)
			}
		}
		if t.JWKS != "" {
			// The keys are read by the rule the guard reads them with,
			// under the issuer's algorithms (when those are valid: a bad
			// one is reported below).
			err := checkJWKS(t.JWKS)
			if err == nil && sources == 1 && !slices.ContainsFunc(t.Algorithms, func(a string) bool { return !asymmetricAlg(a) }) {
				err = sigkey.CheckSet(t.JWKS, t.Algorithms)
			}
			if err != nil {
				name := "jwks"
				if _, inline := v.set[&t.JWKS]; !inline && t.JWKSFile != "" {
					name = "jwks_file"
				}
				at(&t.JWKS, &t.JWKSFile)("%s.%s: %v", p, name, err)
			}
		}

		if len(t.Algorithms) == 0 {
			at(&t.Algorithms)("%s.algorithms: list at least one algorithm (e.g. RS256)", p)
		}
		for j, a := range t.Algorithms {
			switch {
			case asymmetricAlg(a):
			case a == "none" || strings.HasPrefix(a, "HS"):
				at(&t.Algorithms[j], &t.Algorithms)("%s.algorithms[%d]: %s is not allowed: only asymmetric algorithms (RS*, PS*, ES*, EdDSA)", p, j, quote(a))
			default:
				at(&t.Algorithms[j], &t.Algorithms)("%s.algorithms[%d]: unknown algorithm %s: use RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA", p, j, quote(a))
			}
		}
		if len(t.Audience) == 0 {
			at(&t.Audience)("%s.audience: list at least one audience", p)
		}
		for j := range t.Audience {
			if strings.TrimSpace(t.Audience[j]) == "" {
				at(&t.Audience[j], &t.Audience)("%s.audience[%d]: must not be empty", p, j)
			}
		}
		v.origins(p+".allowed_origins", t.AllowedOrigins, &t.AllowedOrigins, t, &c.TrustedIssuers)
		if t.RefreshInterval < Duration(time.Second) {
			at(&t.RefreshInterval)("%s.refresh_interval: %s must be at least 1s", p, t.RefreshInterval)
		}
		v.positive(p+".min_refetch_interval", &t.MinRefetchInterval, t)

		// Issuers sharing a jwks_url share one download and its schedule.
		if t.JWKSURL != "" {
			if j, ok := urls[t.JWKSURL]; !ok {
				urls[t.JWKSURL] = i
			} else if o := &c.TrustedIssuers[j]; !sameAlgorithms(o.Algorithms, t.Algorithms) ||
				o.RefreshInterval != t.RefreshInterval || o.MinRefetchInterval != t.MinRefetchInterval {
				at(&t.JWKSURL)("%s.jwks_url: shared with trusted_issuers[%d], which sets other algorithms, refresh_interval or min_refetch_interval: issuers sharing a jwks_url must agree on them", p, j)
			}
		}
	}
}

// sameAlgorithms reports whether two algorithm lists name the same set.
func sameAlgorithms(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// checkJWKS checks that s is a JSON object with a "keys" array; the keys
// themselves are parsed where they are used.
func checkJWKS(s string) error {
	var set map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		return fmt.Errorf("not a JWK set: a JSON object with a \"keys\" array is required")
	}
	var keys []json.RawMessage
	if raw, ok := set["keys"]; !ok || json.Unmarshal(raw, &keys) != nil || keys == nil {
		return fmt.Errorf("not a JWK set: the \"keys\" array is missing")
	}
	return nil
}

package config

import (
	"strings"
	"testing"
)

// Rules a component used to enforce on its own (the guard on trusted
// issuers, the proxy on endpoint paths), so that "clearance check"
// accepted files that "serve" and a reload refused. Each is now part of
// the one validation; the guard and proxy tests hold the same cases.
func TestComponentRulesAreConfigRules(t *testing.T) {
	t.Parallel()
	const (
		ecKey    = `{"crv":"P-256","kid":"ec1","kty":"EC","x":"iAHdWULQKEVw35WyUGSd94F0fASsW6truZ4X6w7bK3M","y":"jXMKoRQdCMtNwrije9ZQnQ0wPqfQgva3FlYnovZuKKA"}`
		edKey    = `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"p1"}`
		smallRSA = `{"e":"AQAB","kid":"small","kty":"RSA","n":"9q4qCD6iQbYGHKuLS4_ronPWRuKjKmXJEPWkI6yKhmaA9Y39TuIWBrMze7U8A-3YpsI8ks5L2nIpgp0I-Hxt5wZiSyicvhmqSavvZyInKstBzUTJAhm13SKsHACJ71C2RB9_dKndFWY_JUfIUxIyVAq7mr1TDT43ocf_N-7cvj0"}`
	)
	inline := func(keys, algs string) string {
		s := "trusted_issuers:\n  - issuer: https://idp\n    jwks: '{\"keys\": [" + keys + "]}'\n"
		if algs != "" {
			s += "    algorithms: [" + algs + "]\n"
		}
		return s
	}
	shared := func(second string) string {
		return "trusted_issuers:\n  - {issuer: 'https://a', jwks_url: 'https://idp/k', algorithms: [RS256, ES256]}\n  - {issuer: 'https://b', jwks_url: 'https://idp/k', " + second + "}\n"
	}
	tests := []struct {
		name string
		src  string
		pos  string // LINE:COL
		msg  string // fragment of the message
	}{
		{"inline jwks with no keys", inline("", ""), "3:11", "trusted_issuers[0].jwks: no usable signing keys: the set is empty"},
		{"Ed25519 key under the RS256 default", inline(edKey, ""), "3:11", "no configured algorithm fits a OKP key"},
		{"EC key under RS256", inline(ecKey, "RS256"), "3:11", `no usable signing keys for algorithms RS256: key 0 (kid "ec1"): no configured algorithm fits a EC key`},
		{"RSA key under 2048 bits", inline(strings.Replace(smallRSA, `"kid"`, `"alg":"RS256","kid"`, 1), "RS256"), "3:11", "needs an RSA key of at least 2048 bits"},
		{"key with an alg not configured", inline(strings.Replace(ecKey, `"kid"`, `"alg":"ES256","kid"`, 1), "ES384"), "3:11", "alg ES256 is not configured for the issuer"},
		{"key that does not parse", inline(`{"kty":"RSA","kid":"x"}`, "RS256"), "3:11", "trusted_issuers[0].jwks: not a usable JWK set"},
		{"symmetric key", inline(`{"kty":"oct","k":"c2VjcmV0","kid":"h"}`, "RS256"), "3:11", "symmetric keys are never accepted"},
		{"shared jwks_url with other algorithms", shared("algorithms: [RS256]"), "3:37", "trusted_issuers[1].jwks_url: shared with trusted_issuers[0]"},
		{"shared jwks_url with another refresh interval", shared("algorithms: [ES256, RS256], refresh_interval: 1h"), "3:37", "must agree on them"},
		{"endpoint with an empty segment", "endpoints: {token: /oauth//token}\n", "1:20", `endpoints.token: "/oauth//token" is not a clean path`},
		{"endpoint with a dot segment", "endpoints: {authorize: /oauth/./authorize}\n", "1:24", `write "/oauth/authorize"`},
		{"endpoint ending in a dot", "endpoints: {token: /token/.}\n", "1:20", "is not a clean path"},
		{"endpoint on the subscriptions path", "endpoints: {token: /v1/subscriptions/valid}\n", "1:20", "is reserved for the gateway's /v1/subscriptions/valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ps := parseString(t, tt.src)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want exactly 1:\n%v", len(ps), ps)
			}
			got := ps[0].String()
			prefix := "t.yaml:" + tt.pos + ": "
			if !strings.HasPrefix(got, prefix) || !strings.Contains(got, tt.msg) {
				t.Errorf("got  %s\nwant %s...%s", got, prefix, tt.msg)
			}
		})
	}

	for name, src := range map[string]string{
		"Ed25519 key under EdDSA":      inline(edKey, "EdDSA"),
		"one usable key among others":  inline(ecKey+", "+smallRSA, "ES256"),
		"shared jwks_url, same set":    shared("algorithms: [ES256, RS256]"),
		"endpoints with a prefix form": "endpoints: {token: /oauth/token/, authorize: /oauth/authorize}\n",
	} {
		t.Run("accepts "+name, func(t *testing.T) {
			t.Parallel()
			mustParse(t, src)
		})
	}
}

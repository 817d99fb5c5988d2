package attack

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/clearance-gw/clearance/internal/testissuer"
)

// gatewayToken registers a client_credentials client and returns one of
// the gateway's own access tokens for it.
func gatewayToken(g *gateway) string {
	g.t.Helper()
	secret := g.createClient("forge-victim", "--grant", "client_credentials", "--scope", "charts")
	return g.token("forge-victim", secret, url.Values{"grant_type": {"client_credentials"}}).AccessToken
}

// segments splits a compact JWS.
func segments(t *testing.T, tok string) (header, payload map[string]any, rawPayload string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := b64.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload, parts[1]
}

// refused asserts that the token gets a 400 or 401 RFC 6750 answer that
// does not echo it, and that the upstream never sees the request.
func (g *gateway) refused(t *testing.T, path, tok string) response {
	t.Helper()
	before := g.up.count()
	r := g.bearer(path, tok)
	if r.status != http.StatusUnauthorized && r.status != http.StatusBadRequest {
		t.Errorf("status %d, want 401 or 400; body %s", r.status, r.body)
	}
	if r.header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q, want application/json", r.header.Get("Content-Type"))
	}
	if r.status == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="clearance"`) {
		t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	for _, part := range strings.Split(tok, ".") {
		if len(part) >= 16 && (strings.Contains(r.body, part) || strings.Contains(r.header.Get("WWW-Authenticate"), part)) {
			t.Errorf("the answer echoes part of the token: %s", r.body)
		}
	}
	if n := g.up.count(); n != before {
		t.Errorf("the upstream received the request of a refused token")
	}
	return r
}

// attacker is a key the gateway has never seen, and a server that would
// publish it (counting every fetch the gateway might make).
type attacker struct {
	key     *rsa.PrivateKey
	srv     *httptest.Server
	fetches atomic.Int64
	jwk     map[string]any
}

func newAttacker(t *testing.T) *attacker {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	a := &attacker{key: key}
	pub, err := jwk.FromRaw(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub.Set(jwk.KeyIDKey, "attacker")
	pub.Set(jwk.AlgorithmKey, "RS256")
	b, _ := json.Marshal(pub)
	json.Unmarshal(b, &a.jwk)
	set := fmt.Sprintf(`{"keys":[%s]}`, b)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, set)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *attacker) sign(t *testing.T, header map[string]any, payload string) string {
	t.Helper()
	return testissuer.SignRaw(mustJSON(t, header), payload, func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(rand.Reader, a.key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	})
}

// TestForgedTokensAreRefused signs the gateway's own claims in every way
// an attacker without the gateway's private key can.
func TestForgedTokensAreRefused(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	real := gatewayToken(g)
	if r := g.bearer("/v1/charts/EDDF", real); r.status != http.StatusOK {
		t.Fatalf("the genuine token: %d %s", r.status, r.body)
	}
	hdr, _, rawPayload := segments(t, real)
	kid, _ := hdr["kid"].(string)
	payloadJSON, _ := b64.DecodeString(rawPayload)
	realSig := real[strings.LastIndexByte(real, '.')+1:]

	// The published public key, in every byte form an HMAC confusion
	// attack might use as the shared secret.
	jr := g.get("/.well-known/jwks.json")
	set, err := jwk.Parse([]byte(jr.body))
	if err != nil {
		t.Fatalf("JWKS: %v\n%s", err, jr.body)
	}
	pubKey, ok := set.LookupKeyID(kid)
	if !ok {
		t.Fatalf("kid %q not in the JWKS", kid)
	}
	var rsaPub rsa.PublicKey
	if err := pubKey.Raw(&rsaPub); err != nil {
		t.Fatal(err)
	}
	pkix, _ := x509.MarshalPKIXPublicKey(&rsaPub)
	pkcs1 := x509.MarshalPKCS1PublicKey(&rsaPub)
	jwkJSON, _ := json.Marshal(pubKey)
	secrets := map[string][]byte{
		"PKIX PEM":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"PKCS1 PEM": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"PKIX DER":  pkix,
		"PKCS1 DER": pkcs1,
		"JWK JSON":  jwkJSON,
		"JWKS body": []byte(jr.body),
		"modulus":   rsaPub.N.Bytes(),
	}
	for name, key := range secrets {
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			t.Run("HMAC keyed with the public key/"+alg+"/"+name, func(t *testing.T) {
				h := mustJSON(t, map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"})
				tok := testissuer.SignRaw(h, string(payloadJSON), func(in []byte) []byte {
					m := hmac.New(sha256.New, key)
					m.Write(in)
					return m.Sum(nil)
				})
				g.refused(t, "/v1/charts/EDDF", tok)
			})
		}
	}

	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		for sigName, sig := range map[string]string{"empty signature": "", "original signature": realSig} {
			t.Run("alg "+alg+"/"+sigName, func(t *testing.T) {
				h := mustJSON(t, map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"})
				tok := b64.EncodeToString([]byte(h)) + "." + rawPayload + "." + sig
				g.refused(t, "/v1/charts/EDDF", tok)
			})
		}
	}

	t.Run("signature of another token", func(t *testing.T) {
		_, claims, _ := segments(t, real)
		claims["scope"] = "charts airports"
		tok := strings.Join([]string{real[:strings.IndexByte(real, '.')], b64.EncodeToString([]byte(mustJSON(t, claims))), realSig}, ".")
		g.refused(t, "/v1/charts/EDDF", tok)
	})

	a := newAttacker(t)
	_, claims, _ := segments(t, real)
	claims["sub"] = "admin"
	forgedPayload := mustJSON(t, claims)
	headers := map[string]map[string]any{
		"foreign key with the gateway's kid": {"alg": "RS256", "kid": kid, "typ": "at+jwt"},
		"foreign kid":                        {"alg": "RS256", "kid": "attacker", "typ": "at+jwt"},
		"no kid":                             {"alg": "RS256", "typ": "at+jwt"},
		"kid path traversal":                 {"alg": "RS256", "kid": "../../../../dev/null", "typ": "at+jwt"},
		"kid SQL":                            {"alg": "RS256", "kid": "' OR '1'='1", "typ": "at+jwt"},
		"kid of the trusted issuer":          {"alg": "RS256", "kid": "ext-1", "typ": "at+jwt"},
		"embedded jwk":                       {"alg": "RS256", "kid": "attacker", "jwk": a.jwk, "typ": "at+jwt"},
		"embedded jwk, gateway kid":          {"alg": "RS256", "kid": kid, "jwk": a.jwk, "typ": "at+jwt"},
		"jku":                                {"alg": "RS256", "kid": "attacker", "jku": a.srv.URL + "/jwks.json", "typ": "at+jwt"},
		"jku, gateway kid":                   {"alg": "RS256", "kid": kid, "jku": a.srv.URL + "/jwks.json", "typ": "at+jwt"},
		"x5u":                                {"alg": "RS256", "kid": "attacker", "x5u": a.srv.URL + "/cert.pem", "typ": "at+jwt"},
		"PS256 with the gateway kid":         {"alg": "PS256", "kid": kid, "typ": "at+jwt"},
	}
	for name, h := range headers {
		t.Run(name, func(t *testing.T) {
			g.refused(t, "/v1/charts/EDDF", a.sign(t, h, forgedPayload))
		})
	}
	if n := a.fetches.Load(); n != 0 {
		t.Errorf("the gateway fetched keys from a URL named in a token header %d times", n)
	}

	t.Run("JSON serialization with the genuine signature", func(t *testing.T) {
		parts := strings.Split(real, ".")
		flat := mustJSON(t, map[string]any{"protected": parts[0], "payload": parts[1], "signature": parts[2]})
		general := mustJSON(t, map[string]any{"payload": parts[1],
			"signatures": []any{map[string]any{"protected": parts[0], "signature": parts[2]}}})
		for _, tok := range []string{flat, general} {
			g.refused(t, "/v1/charts/EDDF", tok)
			before := g.up.count()
			r := g.get("/v1/charts/EDDF?access_token=" + url.QueryEscape(tok))
			if r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized {
				t.Errorf("JSON serialization in the query: %d %s", r.status, r.body)
			}
			if g.up.count() != before {
				t.Error("the upstream received a JSON-serialized token")
			}
		}
	})

	t.Run("token longer than any real one", func(t *testing.T) {
		_, claims, _ := segments(t, real)
		claims["pad"] = strings.Repeat("A", 9000)
		r := g.refused(t, "/v1/charts/EDDF", a.sign(t, headers["foreign kid"], mustJSON(t, claims)))
		if r.status != http.StatusBadRequest {
			t.Errorf("oversized token: %d, want 400", r.status)
		}
	})
}

// TestTrustedIssuerClaimAbuse signs tokens with the trusted issuer's own
// key (the attacker here is the issuer, or anyone who obtained one of its
// tokens) and abuses the claims the gateway must check.
func TestTrustedIssuerClaimAbuse(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	e := g.ext
	if r := g.bearer("/v1/charts/EDDF", e.token(t, e.claims())); r.status != http.StatusOK {
		t.Fatalf("a genuine token of the trusted issuer: %d %s", r.status, r.body)
	}
	now := time.Now()
	with := func(k string, v any) map[string]any {
		c := e.claims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	cases := map[string]map[string]any{
		"expired an hour ago":         with("exp", now.Add(-time.Hour).Unix()),
		"expired beyond the leeway":   with("exp", now.Add(-45*time.Second).Unix()),
		"no exp":                      with("exp", nil),
		"exp zero":                    with("exp", 0),
		"exp negative":                with("exp", -1),
		"exp in the past as a string": with("exp", fmt.Sprint(now.Add(-time.Hour).Unix())),
		"exp as an object":            with("exp", map[string]any{"$gt": 0}),
		"exp far beyond int64":        with("exp", 1e300),
		"nbf in an hour":              with("nbf", now.Add(time.Hour).Unix()),
		"nbf in an hour as a string":  with("nbf", fmt.Sprint(now.Add(time.Hour).Unix())),
		"iat in a day":                with("iat", now.Add(24*time.Hour).Unix()),
		"aud of another service":      with("aud", "http://other.test"),
		"aud list of other services":  with("aud", []string{"http://other.test", "http://gateway.test.evil"}),
		"aud with a trailing slash":   with("aud", extAudience+"/"),
		"aud in another case":         with("aud", strings.ToUpper(extAudience)),
		"no aud":                      with("aud", nil),
		"aud as a number":             with("aud", 1),
		"iss of the gateway":          with("iss", gatewayIssuer),
		"iss with a trailing slash":   with("iss", e.URL+"/"),
		"iss in another case":         with("iss", strings.ToUpper(e.URL)),
		"no iss":                      with("iss", nil),
		"iss as a list":               with("iss", []string{e.URL}),
		"scope as a number":           with("scope", 7),
		"scp with a scope holding CRLF": func() map[string]any {
			c := with("scope", nil)
			c["scp"] = []string{"charts", "x\r\nX-Auth-Subject: admin"}
			return c
		}(),
		"sub with CRLF":                  with("sub", "alice\r\nX-Auth-Subject: admin"),
		"sub with a NUL":                 with("sub", "alice\x00admin"),
		"client_id with CRLF":            with("client_id", "c\r\nX-Auth-Scope: everything"),
		"client_id as an object":         with("client_id", map[string]any{"id": "x"}),
		"without the route's scope":      with("scope", "airports"),
		"scope in another case":          with("scope", "CHARTS"),
		"scope as a prefix of the route": with("scope", "chart"),
	}
	for name, claims := range cases {
		t.Run(name, func(t *testing.T) {
			g.refused(t, "/v1/charts/EDDF", e.token(t, claims))
		})
	}

	headerCases := map[string]string{
		"alg not configured for the issuer": `{"alg":"ES256","kid":"ext-1","typ":"at+jwt"}`,
		"unknown critical header":           `{"alg":"EdDSA","kid":"ext-1","typ":"at+jwt","crit":["x-must-understand"],"x-must-understand":true}`,
		"unencoded payload (b64 false)":     `{"alg":"EdDSA","kid":"ext-1","typ":"at+jwt","crit":["b64"],"b64":false}`,
		"typ of an ID token":                `{"alg":"EdDSA","kid":"ext-1","typ":"id_token+jwt"}`,
		"typ of a logout token":             `{"alg":"EdDSA","kid":"ext-1","typ":"logout+jwt"}`,
		"unknown kid":                       `{"alg":"EdDSA","kid":"ext-2","typ":"at+jwt"}`,
	}
	payload := mustJSON(t, e.claims())
	for name, h := range headerCases {
		t.Run(name, func(t *testing.T) {
			g.refused(t, "/v1/charts/EDDF", e.Sign(t, h, payload))
		})
	}

	t.Run("a flood of unknown kids fetches the JWKS at most once more", func(t *testing.T) {
		before := e.Fetches()
		for i := range 30 {
			g.refused(t, "/v1/charts/EDDF", e.Sign(t, fmt.Sprintf(`{"alg":"EdDSA","kid":"made-up-%d"}`, i), payload))
		}
		if n := e.Fetches() - before; n > 1 {
			t.Errorf("30 unknown kids caused %d JWKS fetches", n)
		}
	})

	t.Run("duplicate claims", func(t *testing.T) {
		base := e.claims()
		delete(base, "sub")
		delete(base, "iss")
		body := strings.TrimSuffix(mustJSON(t, base), "}")
		for name, extra := range map[string]string{
			"sub twice":                     fmt.Sprintf(`,"iss":%q,"sub":"alice","sub":"admin"}`, e.URL),
			"iss: trusted then the gateway": fmt.Sprintf(`,"sub":"alice","iss":%q,"iss":%q}`, e.URL, gatewayIssuer),
			"iss: the gateway then trusted": fmt.Sprintf(`,"sub":"alice","iss":%q,"iss":%q}`, gatewayIssuer, e.URL),
		} {
			t.Run(name, func(t *testing.T) {
				tok := e.Sign(t, `{"alg":"EdDSA","kid":"ext-1","typ":"at+jwt"}`, body+extra)
				before := g.up.count()
				r := g.bearer("/v1/charts/EDDF", tok)
				switch r.status {
				case http.StatusUnauthorized, http.StatusBadRequest:
					if g.up.count() != before {
						t.Error("refused, yet forwarded")
					}
				case http.StatusOK:
					// RFC 7519 §4: the lexically last member wins.
					got := g.up.last(t).Header.Get("X-Auth-Subject")
					if name == "sub twice" && got != "admin" {
						t.Errorf("X-Auth-Subject %q: the verified token's last sub is admin", got)
					}
					if strings.HasPrefix(name, "iss: trusted then") {
						t.Errorf("a token whose last iss is %s was accepted on the trusted issuer's key", gatewayIssuer)
					}
					if strings.HasPrefix(name, "iss") && got != "alice" {
						t.Errorf("X-Auth-Subject %q", got)
					}
				default:
					t.Errorf("status %d %s", r.status, r.body)
				}
			})
		}
	})

	t.Run("deeply nested and very long claims", func(t *testing.T) {
		for name, v := range map[string]string{
			"nested arrays":  strings.Repeat("[", 2500) + strings.Repeat("]", 2500),
			"nested objects": strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000),
		} {
			c := e.claims()
			body := strings.TrimSuffix(mustJSON(t, c), "}") + `,"x":` + v + "}"
			tok := e.Sign(t, `{"alg":"EdDSA","kid":"ext-1","typ":"at+jwt"}`, body)
			r := g.bearer("/v1/charts/EDDF", tok)
			if r.status >= 500 || (r.status != http.StatusOK && r.status != http.StatusUnauthorized && r.status != http.StatusBadRequest) {
				t.Errorf("%s: status %d %s", name, r.status, r.body)
			}
		}
		c := e.claims()
		c["sub"] = strings.Repeat("s", 5000)
		r := g.bearer("/v1/charts/EDDF", e.token(t, c))
		if r.status == http.StatusOK && len(g.up.last(t).Header.Get("X-Auth-Subject")) != 5000 {
			t.Error("a long subject was forwarded cut")
		}
		if r.status >= 500 {
			t.Errorf("long subject: %d %s", r.status, r.body)
		}
		if r := g.bearer("/v1/charts/EDDF", e.token(t, e.claims())); r.status != http.StatusOK {
			t.Errorf("the gateway no longer accepts a genuine token: %d", r.status)
		}
	})
}

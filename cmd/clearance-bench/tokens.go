package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// issueToken asks the gateway's token endpoint for a client_credentials
// token with scope.
func issueToken(client *http.Client, gw *process, secret, scope string) (string, error) {
	req := tokenRequest(gw.url, secret, scope)
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint: %d %s", res.StatusCode, body)
	}
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %s", body)
	}
	return t.AccessToken, nil
}

func tokenRequest(base, secret, scope string) *http.Request {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	return req
}

// issuerKey is the bench's own ES256 issuer, trusted by the gateway with an
// inline JWKS, for the tokens the gateway's token endpoint would not mint
// (already expired ones).
type issuerKey struct {
	priv jwk.Key
	jwks string
}

func newIssuerKey() (*issuerKey, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	priv.Set(jwk.KeyIDKey, "bench-1")
	priv.Set(jwk.AlgorithmKey, jwa.ES256)
	pub, err := priv.PublicKey()
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	set.AddKey(pub)
	b, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	return &issuerKey{priv: priv, jwks: string(b)}, nil
}

// sign mints a token of the bench issuer for the gateway, expiring at exp.
func (k *issuerKey) sign(sub, scope string, iat, exp time.Time) (string, error) {
	t, err := jwt.NewBuilder().
		Issuer(benchIssuer).
		Subject(sub).
		Audience([]string{gatewayIssuer}).
		IssuedAt(iat).
		Expiration(exp).
		JwtID(rand.Text()).
		Claim("scope", scope).
		Claim("client_id", "bench-external").
		Build()
	if err != nil {
		return "", err
	}
	b, err := jwt.Sign(t, jwt.WithKey(jwa.ES256, k.priv))
	return string(b), err
}

// badSignature returns tok with one character of its signature changed:
// still canonical base64url, well formed, signed by a known key, and
// invalid.
func badSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// floodWidth is how many characters of the signature floodTokens replaces:
// 12 base-36 digits hold any worker below 2^22 and count below 2^40.
const floodWidth = 12

// floodTokens returns worker w's source of tokens never seen before: tok
// with the first floodWidth characters of its signature replaced by a
// fixed-width base-36 counter unique to the worker. A counter that spells
// the original characters is skipped, so no token is tok itself: each has
// a bad signature.
func floodTokens(tok string, w int) func() string {
	sig := strings.LastIndexByte(tok, '.') + 1
	prefix, orig, rest := tok[:sig], tok[sig:sig+floodWidth], tok[sig+floodWidth:]
	n := uint64(0)
	return func() string {
		for {
			n++
			c := strconv.FormatUint(uint64(w)<<40|n, 36)
			c = strings.Repeat("0", floodWidth-len(c)) + c
			if c != orig {
				return prefix + c + rest
			}
		}
	}
}

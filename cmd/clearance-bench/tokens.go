package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// issueToken asks the gateway's token endpoint for a client_credentials
// token of client id with scope.
func issueToken(client *http.Client, gw *process, id, secret, scope string) (string, error) {
	t, err := tokenCall(client, tokenRequest(gw.url, id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}))
	return t.AccessToken, err
}

// tokenAnswer is the part of a token response the bench reads.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func tokenCall(client *http.Client, req *http.Request) (tokenAnswer, error) {
	var t tokenAnswer
	res, err := client.Do(req)
	if err != nil {
		return t, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return t, fmt.Errorf("token endpoint: %d %s", res.StatusCode, body)
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return t, fmt.Errorf("token endpoint: %s", body)
	}
	return t, nil
}

// tokenRequest is a POST to the token endpoint at base, client id
// authenticated with HTTP Basic.
func tokenRequest(base, id, secret string, form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	return req
}

// tokenPoster returns a source of token requests of client id to the
// token endpoint at base, each with the body given: the URL, the headers
// and the Basic credentials are made once, and each request is a copy of
// that template with a body of its own. The load generator shares the
// gateway's cores, so it does not parse the URL and encode the same form
// and credentials again for every request; the gateway gets the same
// bytes as from tokenRequest.
func tokenPoster(base, id, secret string) func(body string) *http.Request {
	tmpl := tokenRequest(base, id, secret, nil)
	tmpl.Body, tmpl.GetBody = nil, nil
	return func(body string) *http.Request {
		req := new(http.Request)
		*req = *tmpl
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
		return req
	}
}

// revokeToken revokes tok at the gateway's RFC 7009 endpoint, as client id.
func revokeToken(client *http.Client, base, id, secret, tok string) error {
	req, _ := http.NewRequest(http.MethodPost, base+"/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: %d %s", res.StatusCode, body)
	}
	return nil
}

// issuerKey is one of the bench's own ES256 issuers, trusted by the
// gateway, for the tokens the gateway's token endpoint would not mint
// (already expired ones).
type issuerKey struct {
	issuer string
	priv   jwk.Key
	jwks   string // the public key set
}

func newIssuerKey(issuer, kid string) (*issuerKey, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	priv.Set(jwk.KeyIDKey, kid)
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
	return &issuerKey{issuer: issuer, priv: priv, jwks: string(b)}, nil
}

// sign mints a token of k's issuer for the gateway, expiring at exp.
func (k *issuerKey) sign(sub, scope string, iat, exp time.Time) (string, error) {
	t, err := jwt.NewBuilder().
		Issuer(k.issuer).
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

// jwksServer serves the key set of the bench's remote issuer and counts
// the fetches.
type jwksServer struct {
	url     string
	fetches atomic.Int64
	srv     *httptest.Server
}

func newJWKSServer() (*jwksServer, error) {
	k, err := newIssuerKey(remoteIssuer, "remote-1")
	if err != nil {
		return nil, err
	}
	j := &jwksServer{}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, k.jwks)
	}))
	j.url = j.srv.URL + "/jwks.json"
	return j, nil
}

func (j *jwksServer) close() { j.srv.Close() }

// unknownKidTokens returns worker w's source of tokens of the remote
// issuer, each with a kid its key set does not hold and never used before
// (and so a signature no key can check): every one is refused, and may make
// the gateway fetch the key set again, at most once per interval.
func unknownKidTokens(w int) func() string {
	exp := time.Now().Add(24 * time.Hour).Unix()
	payload := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil,
		`{"iss":%q,"sub":"flood","aud":%q,"exp":%d,"scope":"charts","client_id":"flood"}`, remoteIssuer, gatewayIssuer, exp))
	sig := make([]byte, 64)
	rand.Read(sig)
	n := uint64(0)
	return func() string {
		n++
		kid := strconv.FormatUint(uint64(w)<<40|n, 36)
		header := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"alg":"ES256","kid":"unknown-%s","typ":"JWT"}`, kid))
		copy(sig, kid)
		return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
}

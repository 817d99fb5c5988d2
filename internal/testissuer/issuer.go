// Package testissuer is an OAuth 2.0 token issuer for tests: an Ed25519
// key, a JWKS server publishing its public half, and helpers that mint
// access tokens (RFC 9068 "at+jwt") or sign arbitrary raw JWS input.
package testissuer

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Issuer is an external issuer whose private key the test holds. Its JWKS
// server answers every path with the public key set and counts the
// requests.
type Issuer struct {
	// URL is the issuer identifier: the JWKS server's URL + "/issuer".
	URL string
	// JWKSURL is the JWKS server's base URL.
	JWKSURL string
	// Key is the private key, with its kid and alg EdDSA.
	Key jwk.Key

	fetches atomic.Int64
}

// New starts an issuer whose key has the given kid; the server closes
// when the test ends.
func New(t testing.TB, kid string) *Issuer {
	t.Helper()
	k := NewKey(t, kid)
	pub, err := jwk.PublicKeyOf(k)
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	iss := &Issuer{Key: k}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iss.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	iss.JWKSURL = srv.URL
	iss.URL = srv.URL + "/issuer"
	return iss
}

// Fetches is how many requests the JWKS server has answered.
func (iss *Issuer) Fetches() int64 { return iss.fetches.Load() }

// Mint signs claims with the issuer's key; see the package function Mint.
func (iss *Issuer) Mint(t testing.TB, claims map[string]any) string {
	t.Helper()
	return Mint(t, iss.Key, claims)
}

// Sign builds a compact JWS from raw header and payload JSON, signed with
// the issuer's key: for tokens no JWT library would produce.
func (iss *Issuer) Sign(t testing.TB, header, payload string) string {
	t.Helper()
	var raw ed25519.PrivateKey
	if err := iss.Key.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	return SignRaw(header, payload, func(in []byte) []byte { return ed25519.Sign(raw, in) })
}

// NewKey generates an Ed25519 private key with the given kid and alg EdDSA.
func NewKey(t testing.TB, kid string) jwk.Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.AlgorithmKey, jwa.EdDSA); err != nil {
		t.Fatal(err)
	}
	return k
}

// Mint signs claims with an Ed25519 key (EdDSA, the key's kid, typ
// at+jwt). Claim values are what jwt.Token.Set accepts: "aud" a string or
// []string, "iat", "exp" and "nbf" a time.Time or Unix seconds.
func Mint(t testing.TB, key jwk.Key, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatalf("claim %s: %v", k, err)
		}
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.TypeKey, "at+jwt"); err != nil {
		t.Fatal(err)
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var b64 = base64.RawURLEncoding

// SignRaw builds a compact JWS from raw header and payload JSON, with
// sign making the signature over the signing input.
func SignRaw(header, payload string, sign func([]byte) []byte) string {
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return in + "." + b64.EncodeToString(sign([]byte(in)))
}

package sigkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

func TestAlgorithmTable(t *testing.T) {
	accepted := []jwa.SignatureAlgorithm{
		jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512,
		jwa.ES256, jwa.ES384, jwa.ES512, jwa.EdDSA,
	}
	for _, a := range accepted {
		if !Accepted(a) {
			t.Errorf("Accepted(%s) = false", a)
		}
	}
	for _, a := range []jwa.SignatureAlgorithm{"", jwa.NoSignature, jwa.HS256, jwa.HS384, jwa.HS512, "rs256", "ES256K"} {
		if Accepted(a) || CanSign(a) {
			t.Errorf("%q is accepted", a)
		}
		if _, ok := Lookup(a); ok {
			t.Errorf("Lookup(%q) found an entry", a)
		}
	}

	want := []jwa.SignatureAlgorithm{jwa.RS256, jwa.ES256, jwa.EdDSA}
	if got := Signing(); !slices.Equal(got, want) {
		t.Errorf("Signing() = %v, want %v", got, want)
	}
	for _, a := range accepted {
		if CanSign(a) != slices.Contains(want, a) {
			t.Errorf("CanSign(%s) = %v", a, CanSign(a))
		}
	}
	if got := Either(Signing()); got != "RS256, ES256 or EdDSA" {
		t.Errorf("Either(Signing()) = %q", got)
	}
	if got := Either([]jwa.SignatureAlgorithm{jwa.ES384}); got != "ES384" {
		t.Errorf("Either of one = %q", got)
	}

	for alg, kty := range map[jwa.SignatureAlgorithm]jwa.KeyType{
		jwa.RS256: jwa.RSA, jwa.PS384: jwa.RSA, jwa.ES512: jwa.EC, jwa.EdDSA: jwa.OKP,
	} {
		if a, _ := Lookup(alg); a.Name != alg || a.KeyType != kty {
			t.Errorf("Lookup(%s) = %+v, want key type %s", alg, a, kty)
		}
	}
}

// Every accepted algorithm pairs with exactly the key its table entry names.
func TestPairs(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec := func(c elliptic.Curve) *ecdsa.PublicKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return &k.PublicKey
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]any{
		"rsa2048": &rsa2048.PublicKey, "rsa1024": &rsa1024.PublicKey,
		"p256": ec(elliptic.P256()), "p384": ec(elliptic.P384()), "p521": ec(elliptic.P521()),
		"ed25519": edPub,
	}
	fits := map[jwa.SignatureAlgorithm]string{
		jwa.RS256: "rsa2048", jwa.RS384: "rsa2048", jwa.RS512: "rsa2048",
		jwa.PS256: "rsa2048", jwa.PS384: "rsa2048", jwa.PS512: "rsa2048",
		jwa.ES256: "p256", jwa.ES384: "p384", jwa.ES512: "p521", jwa.EdDSA: "ed25519",
	}
	for alg, fit := range fits {
		for name, k := range keys {
			err := Pairs(alg, k)
			if (err == nil) != (name == fit) {
				t.Errorf("Pairs(%s, %s) = %v", alg, name, err)
			}
		}
	}

	for _, c := range []struct {
		alg  jwa.SignatureAlgorithm
		key  string
		want string
	}{
		{jwa.RS256, "rsa1024", "RS256 needs an RSA key of at least 2048 bits"},
		{jwa.PS256, "p256", "PS256 needs an RSA key, not *ecdsa.PublicKey"},
		{jwa.ES384, "p256", "ES384 needs curve P-384"},
		{jwa.ES256, "ed25519", "ES256 needs an EC key, not ed25519.PublicKey"},
		{jwa.EdDSA, "rsa2048", "EdDSA needs an Ed25519 key, not *rsa.PublicKey"},
		{jwa.HS256, "rsa2048", `algorithm "HS256" is not accepted`},
	} {
		if err := Pairs(c.alg, keys[c.key]); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Pairs(%s, %s) = %v, want %q", c.alg, c.key, err, c.want)
		}
	}
}

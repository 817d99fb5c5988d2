package signing

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// The keyring signs with the algorithms of sigkey's table that sign, each
// with the key type that table gives it.
func TestSigningAlgorithms(t *testing.T) {
	for name, want := range map[string]jwa.SignatureAlgorithm{"": jwa.RS256, "RS256": jwa.RS256, "ES256": jwa.ES256, "EdDSA": jwa.EdDSA} {
		got, err := signingAlg(name)
		if err != nil || got != want {
			t.Errorf("signingAlg(%q) = %s, %v; want %s", name, got, err, want)
		}
	}
	for _, name := range []string{"none", "HS256", "PS256", "ES384", "rs256"} {
		_, err := signingAlg(name)
		if err == nil || err.Error() != `unsupported signing algorithm "`+name+`" (want RS256, ES256 or EdDSA)` {
			t.Errorf("signingAlg(%q) error = %v", name, err)
		}
	}

	for alg, check := range map[jwa.SignatureAlgorithm]func(any) bool{
		jwa.RS256: func(k any) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 2048 },
		jwa.ES256: func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve == elliptic.P256() },
		jwa.EdDSA: func(k any) bool { _, ok := k.(ed25519.PrivateKey); return ok },
	} {
		k, err := generateKey(alg)
		if err != nil || !check(k) {
			t.Errorf("generateKey(%s) = %T, %v", alg, k, err)
			continue
		}
		if err := checkPair(alg, k); err != nil {
			t.Errorf("checkPair(%s, its own key): %v", alg, err)
		}
	}
	if _, err := generateKey(jwa.PS256); err == nil {
		t.Error("generateKey(PS256) made a key")
	}
}

func TestCheckPairRefuses(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := generateKey(jwa.RS256)
	if err != nil {
		t.Fatal(err)
	}
	edKey, err := generateKey(jwa.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		alg jwa.SignatureAlgorithm
		key any
	}{
		"RSA under 2048 bits":           {jwa.RS256, small},
		"P-384 for ES256":               {jwa.ES256, p384},
		"RSA for EdDSA":                 {jwa.EdDSA, rsaKey},
		"Ed25519 for RS256":             {jwa.RS256, edKey},
		"an algorithm it does not sign": {jwa.PS256, rsaKey},
		"a public key":                  {jwa.EdDSA, edKey.Public()},
	} {
		if err := checkPair(c.alg, c.key); err == nil {
			t.Errorf("%s: checkPair accepted it", name)
		}
	}
}

// Package sigkey says which JSON Web Keys and signature algorithms the
// gateway accepts for verifying tokens, and which of those algorithms it
// signs its own tokens with. It is the one copy of that rule, and its
// algorithm table the one list of algorithms and their key types: the guard
// reads every key set through it (its own keys, inline sets, fetched JWKS
// documents), config validation checks tokens.alg and an inline or file key
// set of trusted_issuers with it, so that "clearance check" refuses exactly
// the sets a running gateway would refuse, and the signing keyring generates
// and checks its keys by it.
package sigkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// MinRSABits is the smallest RSA modulus accepted for RS* and PS*.
const MinRSABits = 2048

// DefaultAlgorithm is the algorithm of an issuer that configures none.
const DefaultAlgorithm = jwa.RS256

// Algorithm is what the gateway knows of one JWS algorithm it accepts.
type Algorithm struct {
	Name    jwa.SignatureAlgorithm
	KeyType jwa.KeyType    // jwa.RSA, jwa.EC or jwa.OKP (Ed25519)
	Curve   elliptic.Curve // EC: the one curve the algorithm takes; nil otherwise
	// Signs: the gateway signs its own tokens with it (tokens.alg), with a
	// generated key of KeyType and Curve (RSA: MinRSABits).
	Signs bool
}

// algorithms is the table of every algorithm the gateway accepts; "none"
// and the HMAC algorithms are never in it. It is returned by value so that
// no caller can change it.
func algorithms() [10]Algorithm {
	return [...]Algorithm{
		{Name: jwa.RS256, KeyType: jwa.RSA, Signs: true},
		{Name: jwa.RS384, KeyType: jwa.RSA},
		{Name: jwa.RS512, KeyType: jwa.RSA},
		{Name: jwa.PS256, KeyType: jwa.RSA},
		{Name: jwa.PS384, KeyType: jwa.RSA},
		{Name: jwa.PS512, KeyType: jwa.RSA},
		{Name: jwa.ES256, KeyType: jwa.EC, Curve: elliptic.P256(), Signs: true},
		{Name: jwa.ES384, KeyType: jwa.EC, Curve: elliptic.P384()},
		{Name: jwa.ES512, KeyType: jwa.EC, Curve: elliptic.P521()},
		{Name: jwa.EdDSA, KeyType: jwa.OKP, Signs: true},
	}
}

// Lookup returns the table entry of alg; ok is false for an algorithm the
// gateway does not accept.
func Lookup(alg jwa.SignatureAlgorithm) (Algorithm, bool) {
	for _, a := range algorithms() {
		if a.Name == alg {
			return a, true
		}
	}
	return Algorithm{}, false
}

// Accepted reports whether alg is an asymmetric JWS algorithm the gateway
// verifies. "none" and the HMAC algorithms never are.
func Accepted(alg jwa.SignatureAlgorithm) bool {
	_, ok := Lookup(alg)
	return ok
}

// CanSign reports whether the gateway signs its own tokens with alg.
func CanSign(alg jwa.SignatureAlgorithm) bool {
	a, ok := Lookup(alg)
	return ok && a.Signs
}

// Signing returns the algorithms the gateway signs its own tokens with, in
// the table's order.
func Signing() []jwa.SignatureAlgorithm {
	var out []jwa.SignatureAlgorithm
	for _, a := range algorithms() {
		if a.Signs {
			out = append(out, a.Name)
		}
	}
	return out
}

// Either lists algorithms for a message: "RS256, ES256 or EdDSA".
func Either(algs []jwa.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = a.String()
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// ParseAlgorithms turns configured algorithm names into algorithms, in
// order and without repeats; no names means DefaultAlgorithm.
func ParseAlgorithms(names []string) ([]jwa.SignatureAlgorithm, error) {
	if len(names) == 0 {
		return []jwa.SignatureAlgorithm{DefaultAlgorithm}, nil
	}
	out := make([]jwa.SignatureAlgorithm, 0, len(names))
	for _, n := range names {
		a := jwa.SignatureAlgorithm(n)
		if !Accepted(a) {
			return nil, fmt.Errorf("algorithm %q is not accepted (use RS*, PS*, ES256/384/512 or EdDSA)", n)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// Key is one verification key, in its raw crypto form.
type Key struct {
	KID string
	Alg jwa.SignatureAlgorithm // "" when the set left it open between several configured algorithms
	Raw any                    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// Read checks that k can verify signatures under one of algs and returns
// it. A key meant for another use, a symmetric key, a key whose alg does
// not fit its type or is not among algs is refused. A key without alg gets
// the one configured algorithm that fits it (Alg stays "" when several
// do). strict (the gateway's own keys) also requires kid and alg.
func Read(k jwk.Key, algs []jwa.SignatureAlgorithm, strict bool) (Key, error) {
	if use := k.KeyUsage(); use != "" && use != jwk.ForSignature.String() {
		return Key{}, fmt.Errorf("use %q is not sig", use)
	}
	if k.KeyType() == jwa.OctetSeq {
		return Key{}, errors.New("symmetric keys are never accepted")
	}
	raw, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return Key{}, fmt.Errorf("public key: %w", err)
	}
	key := Key{KID: k.KeyID(), Raw: raw}
	if strict && key.KID == "" {
		return Key{}, errors.New("no kid")
	}
	if a := k.Algorithm().String(); a != "" {
		alg := jwa.SignatureAlgorithm(a)
		if err := Pairs(alg, raw); err != nil {
			return Key{}, err
		}
		if len(algs) > 0 && !slices.Contains(algs, alg) {
			return Key{}, fmt.Errorf("alg %s is not configured for the issuer", alg)
		}
		key.Alg = alg
		return key, nil
	}
	if strict {
		return Key{}, errors.New("no alg")
	}
	var fit []jwa.SignatureAlgorithm
	for _, a := range algs {
		if Pairs(a, raw) == nil {
			fit = append(fit, a)
		}
	}
	switch len(fit) {
	case 0:
		return Key{}, fmt.Errorf("no configured algorithm fits a %s key", k.KeyType())
	case 1:
		key.Alg = fit[0]
	}
	return key, nil
}

// Pairs reports whether raw is a key alg can verify with: the right type,
// curve and size.
func Pairs(alg jwa.SignatureAlgorithm, raw any) error {
	a, ok := Lookup(alg)
	if !ok {
		return fmt.Errorf("algorithm %q is not accepted", alg)
	}
	switch a.KeyType {
	case jwa.RSA:
		k, ok := raw.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, not %T", alg, raw)
		}
		if k.N == nil || k.N.BitLen() < MinRSABits {
			return fmt.Errorf("%s needs an RSA key of at least %d bits", alg, MinRSABits)
		}
		return nil
	case jwa.EC:
		k, ok := raw.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an EC key, not %T", alg, raw)
		}
		if k.Curve != a.Curve {
			return fmt.Errorf("%s needs curve %s", alg, a.Curve.Params().Name)
		}
		return nil
	case jwa.OKP:
		if _, ok := raw.(ed25519.PublicKey); !ok {
			return fmt.Errorf("%s needs an Ed25519 key, not %T", alg, raw)
		}
		return nil
	default:
		return fmt.Errorf("algorithm %q is not accepted", alg)
	}
}

// CheckSet checks a JWK set document as a trusted issuer's inline key set
// is used: it must parse, and at least one of its keys must be usable
// under the algorithm names (Read, not strict). The error says why each
// key was refused.
func CheckSet(doc string, algNames []string) error {
	algs, err := ParseAlgorithms(algNames)
	if err != nil {
		return err
	}
	set, err := jwk.ParseString(doc)
	if err != nil {
		return fmt.Errorf("not a usable JWK set: %w", err)
	}
	var why []string
	for i := range set.Len() {
		k, ok := set.Key(i)
		if !ok {
			continue
		}
		if _, err := Read(k, algs, false); err != nil {
			why = append(why, fmt.Sprintf("key %d (kid %q): %v", i, k.KeyID(), err))
			continue
		}
		return nil
	}
	if len(why) == 0 {
		return errors.New("no usable signing keys: the set is empty")
	}
	return fmt.Errorf("no usable signing keys for algorithms %s: %s", joinAlgs(algs), strings.Join(why, "; "))
}

func joinAlgs(algs []jwa.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
